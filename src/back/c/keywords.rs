//! Identifiers an emitted name must never be: C and GNU C keywords, the
//! kernel types and macros the emitted code and its headers use, the ABI of
//! `lf_kernel.h`, and the names the C writer itself generates. The
//! [`super::namer::Namer`] starts with all of these taken.

/// C11 keywords, GNU extensions, and kernel identifiers visible in every
/// emitted translation unit.
pub const RESERVED: &[&str] = &[
    // C11
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Alignas", "_Alignof", "_Atomic",
    "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn", "_Static_assert",
    "_Thread_local",
    // GNU C
    "asm", "typeof", "__asm__", "__attribute__", "__typeof__", "__extension__", "__inline__",
    "__restrict__", "__builtin_expect",
    // kernel types and macros used by the emitted code or its headers
    "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "bool", "true", "false", "NULL",
    "size_t", "likely", "unlikely", "min", "max", "clamp", "clamp_t", "min_t", "max_t",
    "ARRAY_SIZE", "BIT", "BIT_ULL", "BUILD_BUG_ON", "DEFINE_PER_CPU", "this_cpu_ptr",
    "per_cpu_ptr", "local_bh_disable", "local_bh_enable", "module_init", "module_exit",
    "THIS_MODULE", "MODULE_LICENSE", "MODULE_DESCRIPTION", "MODULE_INFO", "MODULE_AUTHOR",
    "PERCPU_MODULE_RESERVE", "__init", "__exit", "__percpu",
    // locals of the emitted infer function
    "in", "out", "i", "j", "g", "k", "m", "r", "d", "t", "p", "x", "y", "a", "b", "n", "acc",
    "acc32", "s", "v", "scratch",
    // lf_kernel.h
    "lf_snapshot", "lf_infer_fn", "lf_register_app", "lf_unregister_app",
    "lf_register_snapshot", "lf_unregister_snapshot", "lf_query_model",
];

/// Prefix of every generated file-scope identifier (upper-cased for macros).
pub const PREFIX: &str = "lf_";

/// The macros of `lf_kernel.h`, lower-cased: a layer stem plus suffix must
/// not spell one of them once upper-cased (a layer named `name` would
/// otherwise define `LF_NAME_LEN`).
pub const ABI_MACROS: &[&str] = &[
    "lf_abi_version",
    "lf_max_io_len",
    "lf_name_len",
    "lf_digest_hex_len",
];
