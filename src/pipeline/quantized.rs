//! The compile of a quantized (QDQ or QOperator) model (issue 8): its own
//! scales, no calibration. `--calibration` and `--input-range` only feed
//! reports; the input domain is the interval the model's input
//! QuantizeLinear maps onto its integer type (outside it, onnxruntime
//! saturates, and so does the snapshot).

use std::path::Path;
use std::sync::Arc;

use super::{digest, read_calibration, CompileOptions, Compiled};
use crate::back::c::ModuleMeta;
use crate::error::Error;
use crate::ir::qgraph::QGraph;
use crate::quant::{self, Domain};
use crate::valid;
use crate::Result;

/// `--precision` on a quantized model: an error, since the model's own
/// types decide every tensor.
pub fn check_precision_option(model: &Path, given: bool) -> Result<()> {
    if !given {
        return Ok(());
    }
    let Ok(bytes) = std::fs::read(model) else {
        return Ok(());
    };
    if let Ok(Some(_)) = crate::front::onnx::load_quantized(&bytes, model) {
        return Err(Error::option(
            "--precision",
            format!(
                "{} is a quantized model: it keeps its own types, scales and zero points, so there is no precision to choose; drop --precision (or compile the float model to use lfc's own quantizer)",
                model.display()
            ),
        ));
    }
    Ok(())
}

pub(super) fn compile(
    model: &Path,
    bytes: &[u8],
    q: QGraph,
    opts: &CompileOptions,
) -> Result<Compiled> {
    let graph = q.float_graph();
    let calibration = match &opts.calibration {
        Some(p) => Some(read_calibration(p, &graph)?),
        None => None,
    };
    if let Some(super::InputRange::File(p)) = &opts.input_range {
        // read for its errors only: the domain is the model's
        crate::data::read_matrix(p)?;
    }
    let mut program = quant::imported::lower(&q, opts.input_scale, opts.output_scale)?;
    let name = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    program.model_name = name.clone();
    if let Some(r) = &opts.output_range {
        program.output_guard = Some(quant::guard::output_guard(&program, r)?);
    }
    let info = valid::validate(&program)?;
    let domain = Domain {
        lo: program.input_domain.iter().map(|d| d.0).collect(),
        hi: program.input_domain.iter().map(|d| d.1).collect(),
    };
    let mut warnings = quant::warn::warnings(&program);
    warnings.extend(quant::imported::warnings(&q, opts.input_scale));
    warnings.extend(quant::guard::warnings(&program, &info.output_bounds));
    let meta = ModuleMeta {
        uuid: opts.uuid,
        app: opts.app,
        name,
        digest: digest(bytes, opts, &domain, program.output_guard.as_deref()),
        unroll_limit: opts.unroll_limit,
        simd: opts.simd,
    };
    Ok(Compiled {
        model_path: model.to_path_buf(),
        graph,
        domain,
        program,
        info,
        meta,
        calibration,
        warnings,
        imported: Some(Arc::new(q)),
        notes: Vec::new(),
    })
}
