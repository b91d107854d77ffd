//! An error and its causes on one line, for messages that go to a log or into a report field
//! (the CLIs print causes on lines of their own).

/// `error: cause: cause ...`
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_follow_the_error() {
        let io = std::io::Error::other("disk on fire");
        let error = crate::checkpoint::CheckpointError::Io {
            path: "x.ckpt".into(),
            source: io,
        };
        assert_eq!(super::error_chain(&error), format!("{error}: disk on fire"));
    }
}
