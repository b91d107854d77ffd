//! Errors of the toolchain, each naming what is wrong and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("{flag}: {reason}")]
    Flag { flag: String, reason: String },

    #[error("{}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },

    #[error("compilation failed")]
    Frontend,

    #[error("{tool} failed ({status})\n{output}")]
    Tool {
        tool: String,
        status: String,
        output: String,
    },

    #[error("cannot run {tool} (is LLVM 19 installed? run scripts/setup)")]
    ToolMissing {
        tool: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{}", unsupported_message(.items))]
    Unsupported { items: Vec<Unsupported> },

    #[error("{}", undefined_message(.symbols))]
    Undefined { symbols: Vec<(String, String)> },

    #[error("{0}")]
    Layout(String),

    #[error("LLVM: {0}")]
    Llvm(String),

    #[error("the xisa libc is not built at {}: {hint}", path.display())]
    Sysroot { path: PathBuf, hint: String },

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// One construct that cannot be made neutral, with the function it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub function: String,
    pub file: Option<String>,
    pub what: String,
}

fn unsupported_message(items: &[Unsupported]) -> String {
    let mut text = String::from("the program uses constructs that cannot run on every target:");
    for item in items {
        let place = match &item.file {
            Some(file) => format!("{file}: function `{}`", item.function),
            None => format!("function `{}`", item.function),
        };
        text.push_str(&format!("\n  {place}: {}", item.what));
    }
    text
}

fn undefined_message(symbols: &[(String, String)]) -> String {
    let mut text = String::from("undefined symbols:");
    for (symbol, user) in symbols {
        text.push_str(&format!("\n  `{symbol}`, referenced by {user}"));
    }
    text
}

impl ToolchainError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ToolchainError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = ToolchainError> = std::result::Result<T, E>;
