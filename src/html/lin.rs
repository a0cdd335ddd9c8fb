//! The page of a linearizability check (`eosim check FILE --html OUT`): the checker's report
//! with each failing partition's operations, read again from the history and split the way
//! the model splits it (`Model::partition`), so the page can draw every operation of the
//! partition around the counterexample.

use checker::lin::history::RawOperation;
use checker::lin::models::{self, FromHistory};
use checker::lin::{CheckOptions, Format, LinError, LinReport, ModelName, PreparedHistory};
use reports::html::{LinOperation, LinPartition, render_lin_html};

/// The page for `report`, the check of `text` (read as `format`, checked with `model`).
pub fn lin_html_report(
    file: &str,
    text: &str,
    format: Format,
    model: ModelName,
    options: &CheckOptions,
    report: &LinReport,
) -> Result<String, LinError> {
    let prepared = PreparedHistory::parse(text, format, options)?;
    let partitions = if report.counterexamples.is_empty() {
        Vec::new()
    } else {
        partitions(&prepared, model, options.partition)?
    };
    Ok(render_lin_html(file, report, &partitions))
}

/// The history's partitions as `model` makes them (one, when partitioning is off).
fn partitions(
    prepared: &PreparedHistory,
    model: ModelName,
    partition: bool,
) -> Result<Vec<LinPartition>, LinError> {
    let ops = &prepared.operations;
    let semantics = &prepared.semantics;
    match model {
        ModelName::Register => split(&models::Register, ops, semantics, partition),
        ModelName::CasRegister => split(&models::CasRegister, ops, semantics, partition),
        ModelName::MultiRegister => split(&models::MultiRegister, ops, semantics, partition),
        ModelName::Mutex => split(&models::Mutex, ops, semantics, partition),
        ModelName::Kv => split(&models::Kv, ops, semantics, partition),
        ModelName::Log => split(&models::Log, ops, semantics, partition),
    }
}

fn split<M: FromHistory>(
    model: &M,
    raw: &[RawOperation],
    semantics: &models::Semantics,
    partition: bool,
) -> Result<Vec<LinPartition>, LinError> {
    let (operations, _) = models::convert_history::<M>(raw, semantics)?;
    let parts = if partition {
        model.partition(&operations)
    } else {
        vec![models::whole_history(operations.len())]
    };
    Ok(parts
        .into_iter()
        .map(|part| LinPartition {
            label: part.label,
            operations: part
                .operations
                .iter()
                .map(|&i| {
                    let op = &operations[i];
                    LinOperation {
                        process: op.source.process.clone(),
                        description: model.describe_operation(&op.input, op.output.as_ref()),
                        call: op.call,
                        ret: op.ret,
                        invoke_line: op.source.invoke_line,
                        complete_line: op.source.complete_line,
                    }
                })
                .collect(),
        })
        .collect())
}
