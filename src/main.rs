//! `lfc`: command-line front of the library. Parses arguments, calls the
//! library, prints. Errors go to stderr with a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod cli_shadow;

use lfc::commands::{self, Engine};
use lfc::ir::Precision;
use lfc::pipeline::{self, CompileOptions, InputRange, Simd};
use lfc::quant::guard::OutputRange;
use lfc::{control, data, Error, Result};

#[derive(Parser)]
#[command(
    name = "lfc",
    version,
    about = "ONNX → integer-only kernel snapshot compiler (LiteFlow)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionArg {
    Int16,
    Int8,
}

#[derive(Clone, Copy, ValueEnum)]
enum SimdArg {
    None,
    Avx2,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    /// One JSON object per line (fields: docs/json.md).
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    C,
    /// no_std Rust; for a `.ko`, compiled by rustc with the kernel's code
    /// generation and linked with a C shell.
    Rust,
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineArg {
    C,
    /// The emitted Rust, built with rustc.
    Rust,
    Interp,
}

#[derive(Args, Clone)]
struct CompileArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Calibration rows (.npy, .csv or .pb): their per-feature range is
    /// (part of) the input domain.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Declared input domain: `LO:HI` for every feature, or a file of
    /// per-feature bounds (one `lo, hi` row per feature).
    #[arg(long, allow_hyphen_values = true)]
    input_range: Option<String>,
    /// Activation/weight precision (default int16). Not for quantized
    /// (QDQ/QOperator) models, which keep their own types.
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Snapshot uuid (unique per loaded snapshot). Default: N when the
    /// output is named lf_model_N.ko / .c, else 1.
    #[arg(long)]
    uuid: Option<u64>,
    /// Application id the snapshot serves.
    #[arg(long, default_value_t = 1)]
    app: u32,
    /// real input = s64 / input-scale.
    #[arg(long, default_value_t = pipeline::DEFAULT_SCALE)]
    input_scale: i64,
    /// real output = s64 / output-scale.
    #[arg(long, default_value_t = pipeline::DEFAULT_SCALE)]
    output_scale: i64,
    /// Dense layers with more MACs than this become loops over const arrays.
    #[arg(long, default_value_t = pipeline::DEFAULT_UNROLL_LIMIT)]
    unroll_limit: usize,
    /// Widen each feature's calibration range by F times its width on
    /// both sides (0: the calibration rows' [min, max] exactly).
    #[arg(long, value_name = "F", default_value_t = pipeline::DEFAULT_DOMAIN_MARGIN)]
    domain_margin: f64,
    /// Vector instructions for large Dense layers (C back end, x86-64):
    /// avx2 runs them inside kernel_fpu_begin()/kernel_fpu_end() where the
    /// kernel allows it, the scalar code elsewhere (the same results).
    #[arg(long, value_enum, default_value = "none")]
    simd: SimdArg,
    /// Output guardrail: clamp every output to `LO:HI` (real units), or
    /// each to its row of a file of `lo, hi` rows (one per output element).
    /// Clamped queries return LF_INFER_GUARD; lf_kernel counts them.
    #[arg(long, allow_hyphen_values = true, value_name = "LO:HI|FILE")]
    output_range: Option<String>,
    /// Fewer weight bits in a Dense layer where that lets two channels
    /// share one multiply, when the error measured on the calibration rows
    /// grows by at most 0.1 % of the layer's output range (int16).
    #[arg(long, value_enum, default_value = "on")]
    weight_bits_auto: OnOff,
}

impl CompileArgs {
    fn options(&self) -> Result<CompileOptions> {
        self.options_for(None)
    }
    fn options_for(&self, out: Option<&Path>) -> Result<CompileOptions> {
        pipeline::check_precision_option(&self.model, self.precision.is_some())?;
        let from_name = out
            .and_then(|p| p.file_stem())
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("lf_model_"))
            .and_then(|n| n.parse::<u64>().ok());
        Ok(CompileOptions {
            calibration: self.calibration.clone(),
            input_range: self
                .input_range
                .as_deref()
                .map(InputRange::parse)
                .transpose()?,
            precision: match self.precision {
                None | Some(PrecisionArg::Int16) => Precision::Int16,
                Some(PrecisionArg::Int8) => Precision::Int8,
            },
            uuid: self.uuid.or(from_name).unwrap_or(1),
            app: self.app,
            input_scale: self.input_scale,
            output_scale: self.output_scale,
            unroll_limit: self.unroll_limit,
            domain_margin: self.domain_margin,
            simd: match self.simd {
                SimdArg::None => Simd::None,
                SimdArg::Avx2 => Simd::Avx2,
            },
            output_range: self
                .output_range
                .as_deref()
                .map(OutputRange::parse)
                .transpose()?,
            weight_bits_auto: self.weight_bits_auto == OnOff::On,
        })
    }
    fn compile(&self) -> Result<pipeline::Compiled> {
        compile_warn(&self.model, &self.options()?)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile a model: OUT.c (C source), OUT.rs (no_std Rust source),
    /// OUT.ko (kernel module), or a directory (module source tree).
    Compile {
        #[command(flatten)]
        args: CompileArgs,
        #[arg(short = 'o', long = "output")]
        out: PathBuf,
        /// Kernel build directory for `.ko` output.
        #[arg(long)]
        kdir: Option<PathBuf>,
        /// What the snapshot is written in: c (default) or rust (`-o X.rs`
        /// is always Rust).
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Sign the `.ko` with this private key (PEM, or a PKCS#11 URI) using
        /// the kernel tree's scripts/sign-file and its CONFIG_MODULE_SIG_HASH.
        #[arg(long, requires = "sign_cert")]
        sign_key: Option<PathBuf>,
        /// The X.509 certificate of --sign-key (DER `.der`/`.x509`, or PEM).
        #[arg(long, requires = "sign_key")]
        sign_cert: Option<PathBuf>,
    },
    /// Run the compiled model on every row of a data file.
    Run {
        #[command(flatten)]
        args: CompileArgs,
        #[arg(long)]
        input: PathBuf,
        /// OUT.npy or OUT.csv (CSV to stdout when absent). A model with
        /// several outputs gets a CSV header line of column names.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Answer only the model output of this ONNX name.
        #[arg(long = "output")]
        output: Option<String>,
        /// Print the s64 values the engine answered (integers, CSV, no
        /// header; labels as they are), as `lfc infer --raw` prints the
        /// kernel's.
        #[arg(long)]
        raw: bool,
        #[arg(long, value_enum, default_value = "c")]
        engine: EngineArg,
    },
    /// Fidelity against the float model (tract) and C vs interpreter.
    Eval {
        #[command(flatten)]
        args: CompileArgs,
        #[arg(long)]
        data: PathBuf,
        /// Print the report as JSON (fields: docs/json.md).
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML report with plots (OUT.html).
        #[arg(long)]
        report: Option<PathBuf>,
        /// What runs the rows: the emitted C, the emitted Rust, or the
        /// interpreter (which is then compared with itself).
        #[arg(long, value_enum, default_value = "c")]
        engine: EngineArg,
        /// A quantized model's float original: compare against it (run by
        /// tract) instead of the exact simulation of the QDQ graph.
        #[arg(long, value_name = "F.onnx")]
        float_model: Option<PathBuf>,
    },
    /// Layers, ranges, scales, MACs, stack bytes, code size.
    Inspect {
        #[command(flatten)]
        args: CompileArgs,
        /// Also print both IR levels.
        #[arg(long)]
        ir: bool,
        /// Print the report as JSON (fields: docs/json.md).
        #[arg(long, conflicts_with = "ir")]
        json: bool,
    },
    /// Speed of the emitted C as the kernel gets it: instructions per
    /// inference in total and per layer (callgrind), warm and cold ns,
    /// code and table bytes, against tract's f32 plan.
    Bench {
        #[command(flatten)]
        args: CompileArgs,
        /// Rows to run (default: the --calibration rows).
        #[arg(long)]
        rows: Option<PathBuf>,
        /// rust: also the Rust snapshot built as the kernel object is
        /// (instructions and code size beside the C, in the same run).
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
    },
    /// Apps, slots and counters of the loaded lf_kernel.
    Status {
        /// Print the apps as JSON (fields: docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Run rows of a data file through an app's active in-kernel snapshot.
    Infer {
        #[arg(long)]
        app: u32,
        #[arg(long)]
        input: PathBuf,
        /// OUT.npy or OUT.csv (CSV to stdout when absent).
        #[arg(short = 'o', long = "output")]
        out: Option<PathBuf>,
        /// Print the s64 values the kernel answered (integers, CSV, no
        /// header): exact for class labels too, which the real-valued
        /// output divides by the snapshot's one output scale.
        #[arg(long)]
        raw: bool,
    },
    /// Make a loaded snapshot the active one.
    Activate {
        #[arg(long)]
        app: u32,
        #[arg(long)]
        uuid: String,
    },
    /// Swap active and standby.
    Rollback {
        #[arg(long)]
        app: u32,
    },
    /// Record an app's queries (training data) from lf_kernel into a file:
    /// columns in0.., out0.. (real numbers), uuid, timestamp_ns.
    Collect {
        #[arg(long)]
        app: u32,
        /// Stop after this many records.
        #[arg(long, required_unless_present = "seconds")]
        count: Option<usize>,
        /// Stop after this many seconds (with --count: whichever first).
        #[arg(long)]
        seconds: Option<f64>,
        /// OUT.csv (exact), OUT.parquet (typed columns: DOUBLE in0..,out0..,
        /// unsigned INT64 uuid,timestamp_ns; exact) or OUT.npy (float64, plus
        /// OUT.meta.csv with the exact uuid,timestamp_ns of each row), or
        /// `-`: stream the records
        /// to stdout as they arrive (flushed per batch; the summary goes to
        /// stderr; a reader that goes away ends the collection normally).
        #[arg(short = 'o', long = "output")]
        out: PathBuf,
        /// The line format of `-o -`.
        #[arg(long, value_enum, default_value = "csv")]
        format: control::sink::StreamFormat,
    },
    /// Shadow evaluation: a loaded, non-active snapshot answers a sample of
    /// the app's live queries in the kernel, off the datapath.
    Shadow {
        #[command(flatten)]
        args: cli_shadow::ShadowArgs,
    },
    /// LiteFlow's adaptation loop: compile each new .onnx in DIR, judge it
    /// on recent inputs, install it if it passes. With --once, exits 3 if a
    /// candidate was rejected.
    Adapt {
        #[command(flatten)]
        args: AdaptArgs,
    },
    /// Create or destroy an app (without a datapath client).
    App {
        #[command(subcommand)]
        cmd: AppCmd,
    },
    /// Man pages and shell completions (used by make install / make deb).
    #[command(hide = true)]
    Gen {
        #[command(subcommand)]
        what: GenCmd,
    },
}

#[derive(Subcommand)]
enum GenCmd {
    /// Writes lfc.1 and lfc-<command>.1 into DIR.
    Man { dir: PathBuf },
    /// Prints the completion script of SHELL.
    Completions { shell: clap_complete::Shell },
}

/// Man pages of `lfc` and of each visible subcommand.
fn gen_man(dir: &Path) -> Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = vec![("lfc".to_string(), cmd.clone())];
    for sub in cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        let name = format!("lfc-{}", sub.get_name());
        let c = sub
            .clone()
            .display_name(&name)
            .bin_name(format!("lfc {}", sub.get_name()));
        pages.push((name, c));
    }
    for (name, c) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c)
            .render(&mut buf)
            .map_err(|e| Error::Other(format!("man page {name}: {e}")))?;
        let p = dir.join(format!("{name}.1"));
        pipeline::write_atomic(&p, &buf)?;
        println!("{}", p.display());
    }
    Ok(())
}

/// `lfc adapt` options: the compile options of every candidate (as for
/// `compile`, without the model, uuid and app), then the loop's own.
#[derive(Args, Clone)]
struct AdaptArgs {
    #[arg(long)]
    app: u32,
    /// Directory watched for new `.onnx` files (polled every second).
    #[arg(long)]
    watch: PathBuf,
    /// Process what is there once and exit (0: nothing rejected, 3: a
    /// candidate was rejected, 1: error, 2: usage).
    #[arg(long)]
    once: bool,
    #[arg(long)]
    calibration: Option<PathBuf>,
    #[arg(long, allow_hyphen_values = true)]
    input_range: Option<String>,
    #[arg(long, value_enum, default_value = "int16")]
    precision: PrecisionArg,
    #[arg(long, default_value_t = pipeline::DEFAULT_SCALE)]
    input_scale: i64,
    #[arg(long, default_value_t = pipeline::DEFAULT_SCALE)]
    output_scale: i64,
    #[arg(long, default_value_t = pipeline::DEFAULT_UNROLL_LIMIT)]
    unroll_limit: usize,
    #[arg(long, value_name = "F", default_value_t = pipeline::DEFAULT_DOMAIN_MARGIN)]
    domain_margin: f64,
    /// Judge candidates only when at least this share (0..1) of the samples
    /// had an input outside the active snapshot's declared domain (the
    /// records' drift flag); otherwise turn them down, logged with the rate.
    #[arg(long, value_name = "RATE")]
    on_drift: Option<f64>,
    /// Output guardrail of every candidate (see `lfc compile --output-range`).
    #[arg(long, allow_hyphen_values = true, value_name = "LO:HI|FILE")]
    output_range: Option<String>,
    /// Recent inputs to judge candidates on: `lfc collect` output, or a
    /// plain input matrix.
    #[arg(long, conflicts_with = "samples", required_unless_present_any = ["samples", "shadow"])]
    data: Option<PathBuf>,
    /// Collect this many live records before judging each candidate.
    #[arg(long)]
    samples: Option<usize>,
    /// Longest wait for --samples records, seconds.
    #[arg(long, default_value_t = 30.0)]
    samples_timeout: f64,
    /// Fidelity: max |snapshot - float model| allowed (real output units).
    #[arg(long, default_value_t = lfc::adapt::DEFAULT_MAX_FIDELITY_ERROR)]
    max_fidelity_error: f64,
    /// Stability: mean |candidate - active snapshot| allowed (real output units).
    #[arg(long, default_value_t = lfc::adapt::DEFAULT_MAX_OUTPUT_CHANGE)]
    max_output_change: f64,
    /// What runs the candidate for the fidelity check: the emitted C built
    /// for userspace (needs a C compiler), or the bit-exact interpreter.
    #[arg(long, value_enum, default_value = "c")]
    engine: EngineArg,
    /// Kernel build directory (default: the running kernel's).
    #[arg(long)]
    kdir: Option<PathBuf>,
    /// Where .ko files go (default: the watched directory).
    #[arg(long)]
    ko_dir: Option<PathBuf>,
    /// Take lf_model_<uuid>.ko (16 hex digits or decimal) from this
    /// directory instead of building it (its modinfo must carry the
    /// candidate's digest and uuid).
    #[arg(long)]
    prebuilt: Option<PathBuf>,
    /// Sign each module built with this key (see `lfc compile --sign-key`).
    #[arg(long, requires = "sign_cert")]
    sign_key: Option<PathBuf>,
    /// The X.509 certificate of --sign-key.
    #[arg(long, requires = "sign_key")]
    sign_cert: Option<PathBuf>,
    /// Log lines as text, or as JSON lines (steps and decisions).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(flatten)]
    shadow: cli_shadow::AdaptShadowArgs,
}

fn seconds(option: &str, s: f64) -> Result<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(s)
        .map_err(|_| Error::option(option, format!("`{s}` is not a number of seconds")))
}

fn adapt(a: AdaptArgs) -> Result<ExitCode> {
    use lfc::adapt::{self, AdaptOptions, Adapter, Criteria, SampleSource};
    let opts = AdaptOptions {
        app: a.app,
        watch: a.watch.clone(),
        compile: CompileOptions {
            calibration: a.calibration.clone(),
            input_range: a
                .input_range
                .as_deref()
                .map(InputRange::parse)
                .transpose()?,
            precision: match a.precision {
                PrecisionArg::Int16 => Precision::Int16,
                PrecisionArg::Int8 => Precision::Int8,
            },
            uuid: 0,
            app: a.app,
            input_scale: a.input_scale,
            output_scale: a.output_scale,
            unroll_limit: a.unroll_limit,
            domain_margin: a.domain_margin,
            simd: Simd::None,
            output_range: a
                .output_range
                .as_deref()
                .map(OutputRange::parse)
                .transpose()?,
            weight_bits_auto: true,
        },
        criteria: Criteria {
            max_fidelity_error: a.max_fidelity_error,
            max_output_change: a.max_output_change,
            max_drift_rate: a.shadow.max_drift_rate()?,
        },
        engine: match a.engine {
            EngineArg::C => Engine::C,
            EngineArg::Rust => Engine::Rust,
            EngineArg::Interp => Engine::Interp,
        },
        samples: match (a.data, a.samples) {
            (Some(f), _) => SampleSource::File(f),
            (None, Some(k)) => SampleSource::Live(k),
            (None, None) if a.shadow.enabled() => SampleSource::None,
            (None, None) => return Err(Error::option("--data/--samples", "give one")),
        },
        ko_dir: a.ko_dir,
        shadow: a.shadow.options()?,
        on_drift: match a.on_drift {
            Some(r) if !(0.0..=1.0).contains(&r) => {
                return Err(Error::option(
                    "--on-drift",
                    format!("{r}: need a rate in [0, 1]"),
                ))
            }
            r => r,
        },
    };
    let stop = adapt::watch::stop_flag();
    let samples_timeout = seconds("--samples-timeout", a.samples_timeout)?;
    let sign = match (a.sign_key, a.sign_cert) {
        (Some(key), Some(cert)) => Some(lfc::kbuild::sign::SigningKey { key, cert }),
        _ => None,
    };
    let (kdir, prebuilt) = (a.kdir, a.prebuilt);
    let mut connect = || -> Result<Box<dyn adapt::System>> {
        Ok(Box::new(adapt::system::RealSystem {
            client: control::Client::connect()?,
            kdir: kdir.clone(),
            prebuilt: prebuilt.clone(),
            samples_timeout,
            stop: Some(stop),
            sign: sign.clone(),
        }))
    };
    let mut adapter = Adapter::new(opts)?;
    let json = a.log_format == LogFormat::Json;
    let mut log = |e: &adapt::Event| {
        if json {
            println!("{}", lfc::report::json::adapt_event(e));
        } else {
            println!("{e}");
        }
    };
    let notice = |event: &str, text: String| {
        if json {
            println!(
                "{}",
                lfc::report::json::adapt_notice(event, a.app, &a.watch)
            );
        } else {
            println!("{text}");
        }
    };
    if a.once {
        let mut sys = connect()?;
        let out = adapter.poll(sys.as_mut(), false, &mut log)?;
        if out.is_empty() {
            notice(
                "idle",
                format!("adapt: no new model in {}", a.watch.display()),
            );
        }
        return Ok(if out.iter().any(|o| o.rejected()) {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        });
    }
    notice(
        "watching",
        format!(
            "adapt: watching {} for app {} (Ctrl-C to stop)",
            a.watch.display(),
            a.app
        ),
    );
    let mut notices = |event: &str, text: String| {
        if json {
            println!(
                "{}",
                lfc::report::json::adapt_watch_notice(event, a.app, &a.watch, &text)
            );
        } else {
            println!("{text}");
        }
    };
    adapt::watch::run(
        &mut adapter,
        &mut connect,
        adapt::watch::WatchOptions::default(),
        stop,
        &mut log,
        &mut notices,
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
enum AppCmd {
    Create {
        #[arg(long)]
        app: u32,
        #[arg(long)]
        name: String,
        #[arg(long)]
        inputs: u32,
        #[arg(long)]
        outputs: u32,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    Destroy {
        #[arg(long)]
        app: u32,
    },
}

/// An app's budget: lf_kernel refuses a snapshot whose proven cost
/// exceeds any limit given (extended ack naming it).
#[derive(Args, Clone, Default)]
struct BudgetArgs {
    /// Most multiply-adds per query.
    #[arg(long, value_name = "N")]
    max_macs: Option<u64>,
    /// Most worst-case table comparisons (tree walks) per query.
    #[arg(long, value_name = "N")]
    max_cmps: Option<u64>,
    /// Most stack bytes of activations.
    #[arg(long, value_name = "B")]
    max_stack: Option<u64>,
    /// Most bytes of tables and weights.
    #[arg(long, value_name = "B")]
    max_rodata: Option<u64>,
    /// Most bytes of per-CPU scratch.
    #[arg(long, value_name = "B")]
    max_scratch: Option<u64>,
}

impl BudgetArgs {
    /// 0 means "no limit" to lf_kernel, so a limit of 0 is refused here.
    fn cost(&self) -> Result<control::Cost> {
        let limits = [
            ("--max-macs", self.max_macs),
            ("--max-cmps", self.max_cmps),
            ("--max-stack", self.max_stack),
            ("--max-rodata", self.max_rodata),
            ("--max-scratch", self.max_scratch),
        ];
        if let Some((opt, _)) = limits.iter().find(|(_, v)| *v == Some(0)) {
            return Err(Error::option(
                *opt,
                "0 would mean no limit; give at least 1",
            ));
        }
        Ok(control::Cost {
            macs: self.max_macs.unwrap_or(0),
            cmps: self.max_cmps.unwrap_or(0),
            stack_bytes: self.max_stack.unwrap_or(0),
            rodata_bytes: self.max_rodata.unwrap_or(0),
            scratch_bytes: self.max_scratch.unwrap_or(0),
        })
    }
}

fn write_out(out: Option<&Path>, m: &data::Matrix) -> Result<()> {
    match out {
        Some(p) => data::write_matrix(p, m),
        None => data::write_matrix_to(&mut std::io::stdout().lock(), m),
    }
}

/// Compiles and prints the compile's accuracy warnings to stderr.
fn compile_warn(model: &Path, opts: &CompileOptions) -> Result<pipeline::Compiled> {
    let compiled = pipeline::compile(model, opts)?;
    for w in &compiled.warnings {
        eprintln!("lfc: warning: {w}");
    }
    for n in lfc::back::lower_simd::notes(&compiled.program, &compiled.info, opts.simd) {
        eprintln!("lfc: {n}");
    }
    for n in lfc::back::lower::tree_notes(&compiled.program, opts.unroll_limit) {
        eprintln!("lfc: {n}");
    }
    Ok(compiled)
}

fn real_main(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Compile {
            args,
            out,
            kdir,
            backend,
            sign_key,
            sign_cert,
        } => {
            let is_ko = out.extension().map(|e| e == "ko").unwrap_or(false);
            let is_rs = out.extension().map(|e| e == "rs").unwrap_or(false);
            if backend == Some(BackendArg::Rust) && !is_ko && !is_rs {
                return Err(Error::option(
                    "--backend",
                    "the Rust back end writes OUT.rs or OUT.ko",
                ));
            }
            if backend == Some(BackendArg::C) && is_rs {
                return Err(Error::option(
                    "--backend",
                    "-o OUT.rs is Rust source: drop --backend c",
                ));
            }
            let compiled = compile_warn(&args.model, &args.options_for(Some(&out))?)?;
            for n in &compiled.notes {
                eprintln!("lfc: {n}");
            }
            let signing = match (sign_key, sign_cert) {
                (Some(key), Some(cert)) => Some(lfc::kbuild::sign::SigningKey { key, cert }),
                _ => None,
            };
            if signing.is_some() && !is_ko {
                return Err(Error::option(
                    "--sign-key",
                    "only a kernel module (-o NAME.ko) can be signed",
                ));
            }
            if is_ko && backend == Some(BackendArg::Rust) {
                let module = compiled.emit_rust()?;
                let ko = lfc::kbuild::rust::build_ko(
                    &compiled.program,
                    &module,
                    &compiled.meta,
                    &out,
                    kdir.as_deref(),
                    signing.as_ref(),
                )?;
                for w in &ko.warnings {
                    eprintln!("lfc: kbuild: {w}");
                }
                println!("{}", ko.path.display());
            } else if is_ko {
                let module = compiled.emit_c()?;
                let ko =
                    lfc::kbuild::build_ko_signed(&module, &out, kdir.as_deref(), signing.as_ref())?;
                println!("{}", ko.display());
            } else if is_rs {
                let module = compiled.emit_rust()?;
                pipeline::write_atomic(&out, module.source.as_bytes())?;
                println!("{}", out.display());
            } else {
                let module = compiled.emit_c()?;
                for p in pipeline::write_c_output(&module, &out)? {
                    println!("{}", p.display());
                }
            }
        }
        Cmd::Run {
            args,
            input,
            out,
            output,
            raw,
            engine,
        } => {
            let compiled = args.compile()?;
            let engine = match engine {
                EngineArg::C => Engine::C,
                EngineArg::Rust => Engine::Rust,
                EngineArg::Interp => Engine::Interp,
            };
            let r = commands::run(&compiled, &input, engine, output.as_deref())?;
            for line in r.domain.to_string().lines() {
                eprintln!("lfc: {line}");
            }
            let header = r.several.then_some(r.columns.as_slice());
            match out.as_deref() {
                _ if raw => data::write_fixed(out.as_deref(), &r.fixed)?,
                Some(p) => data::write_table(p, &r.values, header)?,
                None => data::write_table_to(&mut std::io::stdout().lock(), &r.values, header)?,
            }
        }
        Cmd::Eval {
            args,
            data,
            json,
            report: html,
            engine,
            float_model,
        } => {
            let compiled = args.compile()?;
            let engine = match engine {
                EngineArg::C => Engine::C,
                EngineArg::Rust => Engine::Rust,
                EngineArg::Interp => Engine::Interp,
            };
            let reference = match &float_model {
                Some(f) => commands::Reference::float_model(f)?,
                None => commands::Reference::for_model(&compiled)?,
            };
            let report = commands::eval_against(&compiled, &data, engine, reference)?;
            if let Some(out) = &html {
                lfc::report::write_eval_html(&compiled, &data, out)?;
                eprintln!("lfc: report written to {}", out.display());
            }
            if json {
                println!("{:#}", lfc::report::json::eval(&report));
            } else {
                print!("{report}");
            }
            if report.mismatch.is_some() {
                return Err(Error::Other(format!(
                    "the emitted {} and the interpreter disagree",
                    report.engine.name()
                )));
            }
        }
        Cmd::Inspect { args, ir, json } => {
            let compiled = args.compile()?;
            if json {
                println!("{:#}", lfc::report::json::inspect(&compiled)?);
            } else {
                print!("{}", commands::inspect(&compiled, ir)?);
            }
        }
        Cmd::Bench {
            args,
            rows,
            backend,
        } => {
            let start = std::time::Instant::now();
            let compiled = args.compile()?;
            compiled.emit_c()?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let path = rows.or(args.calibration.clone()).ok_or_else(|| {
                Error::option("--rows", "give the rows to run (or --calibration)")
            })?;
            let rows = commands::read_inputs(&compiled, &path)?;
            let opts = lfc::bench::BenchOptions {
                rust: matches!(backend, Some(BackendArg::Rust)),
                ..Default::default()
            };
            print!("{}", lfc::bench::run(&compiled, &rows, ms, &opts)?);
        }
        Cmd::Status { json } => {
            let mut c = control::Client::connect()?;
            let apps = c.apps()?;
            if json {
                println!("{:#}", lfc::report::json::status(&apps));
            } else {
                print!("{}", control::format_status(&apps));
            }
        }
        Cmd::Infer {
            app,
            input,
            out,
            raw,
        } => {
            let mut c = control::Client::connect()?;
            let got = commands::infer_kernel(&mut c, app, &input)?;
            if raw {
                data::write_fixed(out.as_deref(), &got.fixed)?;
            } else {
                write_out(out.as_deref(), &got.values)?;
            }
        }
        Cmd::Activate { app, uuid } => {
            let mut c = control::Client::connect()?;
            let uuid = control::parse_uuid(&uuid)?;
            c.activate(app, uuid)?;
            println!("app {app}: snapshot {uuid} active");
        }
        Cmd::Rollback { app } => {
            let mut c = control::Client::connect()?;
            c.rollback(app)?;
            println!("app {app}: rolled back");
        }
        Cmd::Collect {
            app,
            count,
            seconds: secs,
            out,
            format,
        } => {
            let limit = control::CollectLimit {
                count,
                duration: secs.map(|s| seconds("--seconds", s)).transpose()?,
            };
            let stop = control::interrupt_flag();
            let mut c = control::Client::connect()?;
            let mut stream = c.subscribe_records()?;
            let streaming = out.as_os_str() == "-";
            let got = if streaming {
                commands::collect_stdout(&mut c, &mut stream, app, limit, stop, format)?
            } else {
                let got = control::collect(&mut c, &mut stream, app, limit, Some(stop))?;
                got.set.write(&out)?;
                got
            };
            let (n, dest) = if streaming {
                (got.streamed as usize, "stdout".to_string())
            } else {
                (got.set.rows.len(), out.display().to_string())
            };
            let dropped = got
                .dropped
                .map(|d| d.to_string())
                .unwrap_or_else(|| "unknown".into());
            let summary = format!(
                "app {app}: {n} records in {} batches (largest {}) -> {dest}; dropped by lf_kernel: {dropped}{}",
                got.messages,
                got.largest_batch,
                if got.interrupted {
                    " (interrupted)"
                } else if got.reader_gone {
                    " (the reader went away)"
                } else {
                    ""
                }
            );
            // Streaming: stdout is the records.
            if streaming {
                eprintln!("{summary}");
            } else {
                println!("{summary}");
            }
            if got.overruns > 0 {
                eprintln!(
                    "lfc: warning: {} receive-buffer overruns: records were lost in userspace",
                    got.overruns
                );
            }
            if got.malformed > 0 {
                eprintln!(
                    "lfc: warning: {} malformed records skipped; first: {}",
                    got.malformed,
                    got.first_malformed.unwrap_or_default()
                );
            }
            if got.unscaled > 0 {
                eprintln!(
                    "lfc: warning: {} records of snapshots already gone (scales unknown) skipped",
                    got.unscaled
                );
            }
            if let Some(e) = got.failed {
                // The records received before the failure are in `out`.
                return Err(lfc::Error::Other(format!(
                    "collection ended early: {e} ({n} records received before it are in {dest})"
                )));
            }
        }
        Cmd::Adapt { args } => return adapt(args),
        Cmd::Shadow { args } => cli_shadow::shadow(args)?,
        Cmd::Gen { what } => match what {
            GenCmd::Man { dir } => gen_man(&dir)?,
            GenCmd::Completions { shell } => {
                use clap::CommandFactory;
                let mut cmd = Cli::command();
                clap_complete::generate(shell, &mut cmd, "lfc", &mut std::io::stdout());
            }
        },
        Cmd::App { cmd } => {
            let mut c = control::Client::connect()?;
            match cmd {
                AppCmd::Create {
                    app,
                    name,
                    inputs,
                    outputs,
                    budget,
                } => {
                    c.app_create(app, &name, inputs, outputs, &budget.cost()?)?;
                    println!("app {app} `{name}` created ({inputs} -> {outputs})");
                }
                AppCmd::Destroy { app } => {
                    c.app_destroy(app)?;
                    // An app a kernel client registered survives, emptied.
                    if c.apps()?.iter().any(|a| a.app == app) {
                        println!("app {app}: snapshots released; the app stays (a kernel client uses it)");
                    } else {
                        println!("app {app} destroyed");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // `lfc ... | head`: a reader that goes away ends lfc quietly, as it
    // ends cat (SIGPIPE's default action), not with a panic in println!.
    // SAFETY: sets a signal disposition before any thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lfc: error: {e}");
            ExitCode::FAILURE
        }
    }
}
