//! The numbers of `runtime-kmod/include/uapi/lf_netlink.h` (and the few
//! limits of `lf_kernel.h` the client checks), mirrored in one place.
//!
//! Every enum here carries the C name of each value; the test at the bottom
//! reads both headers and fails if a value, a name or an entry differs, so
//! the kernel module and this client cannot drift apart silently.

/// Generic-netlink family name (`LF_GENL_NAME`).
pub const GENL_NAME: &str = "liteflow";
/// Protocol version (`LF_GENL_VERSION`), sent in every genlmsghdr and checked
/// against the version the family registered.
pub const GENL_VERSION: u8 = 1;
/// Multicast group of training records (`LF_GENL_MCGRP_RECORDS`).
pub const MCGRP_RECORDS: &str = "records";

/// Longest input or output vector an app may declare (`LF_MAX_IO_LEN`).
pub const MAX_IO_LEN: u32 = 1024;
/// Longest app or model name including the NUL (`LF_NAME_LEN`).
pub const NAME_LEN: usize = 64;
/// Hex characters of a model digest (`LF_DIGEST_HEX_LEN`).
pub const DIGEST_HEX_LEN: usize = 64;

/// An enum of the uapi header: raw value, C name, and the reverse lookup.
pub trait UapiEnum: Copy + 'static {
    /// The C `enum` it mirrors, e.g. `lf_attr`.
    const C_ENUM: &'static str;
    /// Every mirrored entry, in header order.
    const ALL: &'static [Self];
    fn raw(self) -> u16;
    fn c_name(self) -> &'static str;
    fn from_raw(raw: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.raw() == raw)
    }
    /// C name of a raw value, or `#N` when the value is not mirrored.
    fn name_of(raw: u16) -> String {
        match Self::from_raw(raw) {
            Some(v) => v.c_name().to_string(),
            None => format!("{}#{raw}", Self::C_ENUM),
        }
    }
}

macro_rules! uapi_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty = $c_enum:literal {
            $( $(#[$vmeta:meta])* $var:ident = $val:literal => $c_name:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $var = $val, )*
        }

        impl UapiEnum for $name {
            const C_ENUM: &'static str = $c_enum;
            const ALL: &'static [Self] = &[$($name::$var,)*];
            fn raw(self) -> u16 {
                self as $repr as u16
            }
            fn c_name(self) -> &'static str {
                match self {
                    $($name::$var => $c_name,)*
                }
            }
        }
    };
}

uapi_enum! {
    /// Commands (`enum lf_cmd`), the genlmsghdr `cmd` byte.
    pub enum Cmd: u8 = "lf_cmd" {
        Unspec = 0 => "LF_CMD_UNSPEC",
        /// Dump: one GET_APP message per app.
        GetApp = 1 => "LF_CMD_GET_APP",
        AppCreate = 2 => "LF_CMD_APP_CREATE",
        AppDestroy = 3 => "LF_CMD_APP_DESTROY",
        Activate = 4 => "LF_CMD_ACTIVATE",
        Rollback = 5 => "LF_CMD_ROLLBACK",
        Infer = 6 => "LF_CMD_INFER",
        SetRecording = 7 => "LF_CMD_SET_RECORDING",
        Records = 8 => "LF_CMD_RECORDS",
        /// Start (APP_ID, UUID, SHADOW_EVERY > 0) or stop a shadow.
        Shadow = 9 => "LF_CMD_SHADOW",
        /// APP_ID, STAGING: new snapshots enter the registry only.
        Staging = 10 => "LF_CMD_STAGING",
        /// Multicast on "records": a candidate's answers beside the active's.
        ShadowRecords = 11 => "LF_CMD_SHADOW_RECORDS",
    }
}

impl Cmd {
    pub fn byte(self) -> u8 {
        self as u8
    }
    /// The name without the `LF_CMD_` prefix, as error messages print it.
    pub fn short_name(self) -> &'static str {
        self.c_name().trim_start_matches("LF_CMD_")
    }
}

uapi_enum! {
    /// Top-level attributes (`enum lf_attr`).
    pub enum Attr: u16 = "lf_attr" {
        Unspec = 0 => "LF_ATTR_UNSPEC",
        /// u32
        AppId = 1 => "LF_ATTR_APP_ID",
        /// NUL-terminated string, < NAME_LEN
        AppName = 2 => "LF_ATTR_APP_NAME",
        /// u32
        InputLen = 3 => "LF_ATTR_INPUT_LEN",
        /// u32
        OutputLen = 4 => "LF_ATTR_OUTPUT_LEN",
        /// u64
        Uuid = 5 => "LF_ATTR_UUID",
        /// s64 array, host byte order
        Vector = 6 => "LF_ATTR_VECTOR",
        /// u32, absent when no snapshot is active
        ActiveSlot = 7 => "LF_ATTR_ACTIVE_SLOT",
        /// nested `SlotAttr`, one per occupied slot
        Slot = 8 => "LF_ATTR_SLOT",
        /// u64
        Queries = 9 => "LF_ATTR_QUERIES",
        /// u64
        NoActive = 10 => "LF_ATTR_NO_ACTIVE",
        /// u8
        Recording = 11 => "LF_ATTR_RECORDING",
        /// nested `RecAttr`
        Record = 12 => "LF_ATTR_RECORD",
        /// u64
        Dropped = 13 => "LF_ATTR_DROPPED",
        Pad = 14 => "LF_ATTR_PAD",
        /// u32: 1 query in N per CPU, 0 stops
        ShadowEvery = 15 => "LF_ATTR_SHADOW_EVERY",
        /// u8
        Staging = 16 => "LF_ATTR_STAGING",
        /// nested `ShadowAttr`
        Shadow = 17 => "LF_ATTR_SHADOW",
        /// nested `CostAttr`: the app's budget (0 = no limit)
        Budget = 18 => "LF_ATTR_BUDGET",
    }
}

uapi_enum! {
    /// Attributes nested in `LF_ATTR_SLOT` (`enum lf_slot_attr`).
    pub enum SlotAttr: u16 = "lf_slot_attr" {
        Unspec = 0 => "LF_SLOT_ATTR_UNSPEC",
        /// u32: 0 or 1
        Index = 1 => "LF_SLOT_ATTR_INDEX",
        /// u64
        Uuid = 2 => "LF_SLOT_ATTR_UUID",
        /// string
        Name = 3 => "LF_SLOT_ATTR_NAME",
        /// string: hex SHA-256
        Digest = 4 => "LF_SLOT_ATTR_DIGEST",
        /// string: owning module
        Module = 5 => "LF_SLOT_ATTR_MODULE",
        /// u64
        Queries = 6 => "LF_SLOT_ATTR_QUERIES",
        /// u64
        Errors = 7 => "LF_SLOT_ATTR_ERRORS",
        Pad = 8 => "LF_SLOT_ATTR_PAD",
        /// s64
        InputScale = 9 => "LF_SLOT_ATTR_INPUT_SCALE",
        /// s64
        OutputScale = 10 => "LF_SLOT_ATTR_OUTPUT_SCALE",
        /// flag
        Active = 11 => "LF_SLOT_ATTR_ACTIVE",
        /// u64: queries with an input outside the declared domain
        Drift = 12 => "LF_SLOT_ATTR_DRIFT",
        /// u64: queries with an output clamped by the guardrail
        Guard = 13 => "LF_SLOT_ATTR_GUARD",
        /// s64 array: proven output bounds
        OutLo = 14 => "LF_SLOT_ATTR_OUT_LO",
        OutHi = 15 => "LF_SLOT_ATTR_OUT_HI",
        /// s64 array: the guardrail, absent when none
        GuardLo = 16 => "LF_SLOT_ATTR_GUARD_LO",
        GuardHi = 17 => "LF_SLOT_ATTR_GUARD_HI",
        /// nested `CostAttr`: what the validator proved
        Cost = 18 => "LF_SLOT_ATTR_COST",
    }
}

uapi_enum! {
    /// Attributes nested in `LF_ATTR_RECORD` (`enum lf_rec_attr`).
    pub enum RecAttr: u16 = "lf_rec_attr" {
        Unspec = 0 => "LF_REC_ATTR_UNSPEC",
        /// u64
        Uuid = 1 => "LF_REC_ATTR_UUID",
        /// u64: ktime_get_ns()
        Timestamp = 2 => "LF_REC_ATTR_TIMESTAMP",
        /// s64 array
        Input = 3 => "LF_REC_ATTR_INPUT",
        /// s64 array
        Output = 4 => "LF_REC_ATTR_OUTPUT",
        Pad = 5 => "LF_REC_ATTR_PAD",
        /// s64 array: the candidate's outputs (shadow records)
        ShadowOutput = 6 => "LF_REC_ATTR_SHADOW_OUTPUT",
        /// s32: the candidate's infer() return value
        ShadowError = 7 => "LF_REC_ATTR_SHADOW_ERROR",
        /// u32: LF_INFER_* flags (1 drift, 2 guardrail)
        Flags = 8 => "LF_REC_ATTR_FLAGS",
    }
}

uapi_enum! {
    /// Attributes nested in `LF_ATTR_SHADOW` (`enum lf_shadow_attr`).
    pub enum ShadowAttr: u16 = "lf_shadow_attr" {
        Unspec = 0 => "LF_SHADOW_ATTR_UNSPEC",
        /// u64: the candidate
        Uuid = 1 => "LF_SHADOW_ATTR_UUID",
        /// u32
        Every = 2 => "LF_SHADOW_ATTR_EVERY",
        /// u64
        Sampled = 3 => "LF_SHADOW_ATTR_SAMPLED",
        /// u64
        Dropped = 4 => "LF_SHADOW_ATTR_DROPPED",
        /// u64
        Run = 5 => "LF_SHADOW_ATTR_RUN",
        /// u64
        Errors = 6 => "LF_SHADOW_ATTR_ERRORS",
        /// u64
        Unsent = 7 => "LF_SHADOW_ATTR_UNSENT",
        /// flag
        Running = 8 => "LF_SHADOW_ATTR_RUNNING",
        Pad = 9 => "LF_SHADOW_ATTR_PAD",
        /// s64: the candidate's output scale
        OutputScale = 10 => "LF_SHADOW_ATTR_OUTPUT_SCALE",
    }
}

uapi_enum! {
    /// A snapshot's cost or an app's budget (`enum lf_cost_attr`).
    pub enum CostAttr: u16 = "lf_cost_attr" {
        Unspec = 0 => "LF_COST_ATTR_UNSPEC",
        /// u64: multiply-adds per query
        Macs = 1 => "LF_COST_ATTR_MACS",
        /// u64: worst-case table comparisons
        Cmps = 2 => "LF_COST_ATTR_CMPS",
        /// u64: stack bytes
        Stack = 3 => "LF_COST_ATTR_STACK",
        /// u64: table and weight bytes
        Rodata = 4 => "LF_COST_ATTR_RODATA",
        /// u64: per-CPU scratch bytes
        Scratch = 5 => "LF_COST_ATTR_SCRATCH",
        Pad = 6 => "LF_COST_ATTR_PAD",
    }
}

/// `LF_INFER_DRIFT` / `LF_INFER_GUARD` of lf_kernel.h (the flags infer()
/// returns and records carry).
pub const INFER_DRIFT: u32 = crate::ir::program::INFER_DRIFT;
pub const INFER_GUARD: u32 = crate::ir::program::INFER_GUARD;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const NETLINK_H: &str = include_str!("../../runtime-kmod/include/uapi/lf_netlink.h");
    const KERNEL_H: &str = include_str!("../../runtime-kmod/include/lf_kernel.h");

    /// C source without `/* */` and `//` comments.
    fn strip_comments(src: &str) -> String {
        let mut out = String::new();
        let mut rest = src;
        while let Some(i) = rest.find("/*") {
            out.push_str(&rest[..i]);
            match rest[i + 2..].find("*/") {
                Some(j) => rest = &rest[i + 2 + j + 2..],
                None => panic!("unterminated comment in header"),
            }
        }
        out.push_str(rest);
        out.lines()
            .map(|l| l.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The entries of `enum NAME { ... };`, values counted as C does.
    fn c_enum(src: &str, name: &str) -> Vec<(String, i64)> {
        let src = strip_comments(src);
        let start = src
            .find(&format!("enum {name} {{"))
            .unwrap_or_else(|| panic!("enum {name} not in header"));
        let body = &src[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        let mut next = 0i64;
        let mut out = Vec::new();
        for entry in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (ident, value) = match entry.split_once('=') {
                Some((i, v)) => {
                    let v = v.trim();
                    let v = if let Some(hex) = v.strip_prefix("0x") {
                        i64::from_str_radix(hex, 16).unwrap()
                    } else {
                        v.parse().unwrap_or_else(|_| panic!("value of {entry}"))
                    };
                    (i.trim(), v)
                }
                None => (entry, next),
            };
            out.push((ident.to_string(), value));
            next = value + 1;
        }
        out
    }

    /// `#define NAME VALUE` lines (value as written, trimmed).
    fn c_defines(src: &str) -> BTreeMap<String, String> {
        strip_comments(src)
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some("#define")).then_some(())?;
                let name = words.next()?.to_string();
                let value = words.collect::<Vec<_>>().join(" ");
                Some((name, value))
            })
            .collect()
    }

    /// Both directions: everything mirrored is in the header with the same
    /// value, and every header entry (bar the `__*_MAX` sentinel) is mirrored.
    fn check_enum<E: UapiEnum>() {
        let header = c_enum(NETLINK_H, E::C_ENUM);
        let entries: Vec<_> = header
            .iter()
            .filter(|(n, _)| !n.starts_with("__"))
            .collect();
        assert!(!entries.is_empty(), "enum {} is empty in header", E::C_ENUM);
        let mirrored: Vec<(String, i64)> = E::ALL
            .iter()
            .map(|v| (v.c_name().to_string(), i64::from(v.raw())))
            .collect();
        let from_header: Vec<(String, i64)> = entries.into_iter().cloned().collect();
        assert_eq!(
            mirrored,
            from_header,
            "src/control/uapi.rs is out of step with enum {} in lf_netlink.h",
            E::C_ENUM
        );
        for v in E::ALL {
            assert_eq!(E::from_raw(v.raw()).map(|x| x.raw()), Some(v.raw()));
        }
    }

    #[test]
    fn header_mirror_enums_match() {
        check_enum::<Cmd>();
        check_enum::<Attr>();
        check_enum::<SlotAttr>();
        check_enum::<RecAttr>();
        check_enum::<ShadowAttr>();
        check_enum::<CostAttr>();
    }

    #[test]
    fn header_mirror_defines_match() {
        let d = c_defines(NETLINK_H);
        assert_eq!(d["LF_GENL_NAME"], format!("\"{GENL_NAME}\""));
        assert_eq!(d["LF_GENL_VERSION"], GENL_VERSION.to_string());
        assert_eq!(d["LF_GENL_MCGRP_RECORDS"], format!("\"{MCGRP_RECORDS}\""));
        let k = c_defines(KERNEL_H);
        assert_eq!(k["LF_MAX_IO_LEN"], MAX_IO_LEN.to_string());
        assert_eq!(k["LF_NAME_LEN"], NAME_LEN.to_string());
        assert_eq!(k["LF_DIGEST_HEX_LEN"], DIGEST_HEX_LEN.to_string());
        assert_eq!(k["LF_INFER_DRIFT"], format!("0x{INFER_DRIFT:x}"));
        assert_eq!(k["LF_INFER_GUARD"], format!("0x{INFER_GUARD:x}"));
        assert_eq!(k["LF_ABI_VERSION"], "2");
    }

    #[test]
    fn header_parser_sees_what_it_should() {
        // Guards the test helpers themselves: a parser that found nothing
        // would make the mirror test vacuous.
        let cmds = c_enum(NETLINK_H, "lf_cmd");
        assert_eq!(
            cmds.first().map(|(n, v)| (n.as_str(), *v)),
            Some(("LF_CMD_UNSPEC", 0))
        );
        assert!(cmds.iter().any(|(n, _)| n == "__LF_CMD_MAX"));
        let fake = "enum lf_x { A, /* c, d */ B = 5, C, // e,\n __X_MAX, };";
        assert_eq!(
            c_enum(fake, "lf_x"),
            vec![
                ("A".into(), 0),
                ("B".into(), 5),
                ("C".into(), 6),
                ("__X_MAX".into(), 7)
            ]
        );
        assert_eq!(Attr::name_of(99), "lf_attr#99");
        assert_eq!(Cmd::Infer.short_name(), "INFER");
    }
}
