//! `lfc`: command-line front of the library. Parses arguments, calls the
//! library, prints. Errors go to stderr with a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use lfc::commands::{self, Engine};
use lfc::ir::Precision;
use lfc::pipeline::{self, CompileOptions, InputRange};
use lfc::{control, data, Error, Result};

#[derive(Parser)]
#[command(name = "lfc", version, about = "ONNX → integer-only kernel snapshot compiler (LiteFlow)")]
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
enum EngineArg {
    C,
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
    #[arg(long, value_enum, default_value = "int16")]
    precision: PrecisionArg,
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
}

impl CompileArgs {
    fn options(&self) -> Result<CompileOptions> {
        self.options_for(None)
    }
    fn options_for(&self, out: Option<&Path>) -> Result<CompileOptions> {
        let from_name = out
            .and_then(|p| p.file_stem())
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("lf_model_"))
            .and_then(|n| n.parse::<u64>().ok());
        Ok(CompileOptions {
            calibration: self.calibration.clone(),
            input_range: self.input_range.as_deref().map(InputRange::parse).transpose()?,
            precision: match self.precision {
                PrecisionArg::Int16 => Precision::Int16,
                PrecisionArg::Int8 => Precision::Int8,
            },
            uuid: self.uuid.or(from_name).unwrap_or(1),
            app: self.app,
            input_scale: self.input_scale,
            output_scale: self.output_scale,
            unroll_limit: self.unroll_limit,
        })
    }
    fn compile(&self) -> Result<pipeline::Compiled> {
        pipeline::compile(&self.model, &self.options()?)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile a model: OUT.c (C source), OUT.ko (kernel module), or a
    /// directory (module source tree).
    Compile {
        #[command(flatten)]
        args: CompileArgs,
        #[arg(short = 'o', long = "output")]
        out: PathBuf,
        /// Kernel build directory for `.ko` output.
        #[arg(long)]
        kdir: Option<PathBuf>,
    },
    /// Run the compiled model on every row of a data file.
    Run {
        #[command(flatten)]
        args: CompileArgs,
        #[arg(long)]
        input: PathBuf,
        /// OUT.npy or OUT.csv (CSV to stdout when absent).
        #[arg(short = 'o', long = "output")]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "c")]
        engine: EngineArg,
    },
    /// Fidelity against the float model (tract) and C vs interpreter.
    Eval {
        #[command(flatten)]
        args: CompileArgs,
        #[arg(long)]
        data: PathBuf,
    },
    /// Layers, ranges, scales, MACs, stack bytes, code size.
    Inspect {
        #[command(flatten)]
        args: CompileArgs,
        /// Also print both IR levels.
        #[arg(long)]
        ir: bool,
    },
    /// Apps, slots and counters of the loaded lf_kernel.
    Status,
    /// Run rows of a data file through an app's active in-kernel snapshot.
    Infer {
        #[arg(long)]
        app: u32,
        #[arg(long)]
        input: PathBuf,
        /// OUT.npy or OUT.csv (CSV to stdout when absent).
        #[arg(short = 'o', long = "output")]
        out: Option<PathBuf>,
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
    /// Create or destroy an app (without a datapath client).
    App {
        #[command(subcommand)]
        cmd: AppCmd,
    },
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
    },
    Destroy {
        #[arg(long)]
        app: u32,
    },
}

fn write_out(out: Option<&Path>, m: &data::Matrix) -> Result<()> {
    match out {
        Some(p) => data::write_matrix(p, m),
        None => data::write_matrix_to(&mut std::io::stdout().lock(), m),
    }
}

fn real_main(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Compile { args, out, kdir } => {
            let compiled = pipeline::compile(&args.model, &args.options_for(Some(&out))?)?;
            if out.extension().map(|e| e == "ko").unwrap_or(false) {
                let module = compiled.emit_c()?;
                let ko = lfc::kbuild::build_ko(&module, &out, kdir.as_deref())?;
                println!("{}", ko.display());
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
            engine,
        } => {
            let compiled = args.compile()?;
            let engine = match engine {
                EngineArg::C => Engine::C,
                EngineArg::Interp => Engine::Interp,
            };
            let m = commands::run(&compiled, &input, engine)?;
            write_out(out.as_deref(), &m)?;
        }
        Cmd::Eval { args, data } => {
            let compiled = args.compile()?;
            let report = commands::eval(&compiled, &data)?;
            print!("{report}");
            if report.mismatch.is_some() {
                return Err(Error::Other("the emitted C and the interpreter disagree".into()));
            }
        }
        Cmd::Inspect { args, ir } => {
            let compiled = args.compile()?;
            print!("{}", commands::inspect(&compiled, ir)?);
        }
        Cmd::Status => {
            let mut c = control::Client::connect()?;
            print!("{}", control::format_status(&c.apps()?));
        }
        Cmd::Infer { app, input, out } => {
            let mut c = control::Client::connect()?;
            let m = commands::infer_kernel(&mut c, app, &input)?;
            write_out(out.as_deref(), &m)?;
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
        Cmd::App { cmd } => {
            let mut c = control::Client::connect()?;
            match cmd {
                AppCmd::Create {
                    app,
                    name,
                    inputs,
                    outputs,
                } => {
                    c.app_create(app, &name, inputs, outputs)?;
                    println!("app {app} `{name}` created ({inputs} -> {outputs})");
                }
                AppCmd::Destroy { app } => {
                    c.app_destroy(app)?;
                    println!("app {app} destroyed");
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lfc: error: {e}");
            ExitCode::FAILURE
        }
    }
}
