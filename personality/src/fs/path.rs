//! Lexical handling of guest paths.
//!
//! The guest sees one tree made of the mounts. `.` and `..` are resolved on the guest path
//! itself, with `/..` being `/` as in a chroot, so a guest path always names a place inside
//! that tree; what a path means on the host (symlinks included) is then resolved by cap-std
//! beneath the mount root, which refuses anything that would leave it.

/// A normalized absolute guest path: `/` followed by non-empty components other than `.`
/// and `..`, separated by single slashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GuestPath {
    pub path: Vec<u8>,
    /// The guest wrote a trailing slash (or a final `.`/`..`): the target must be a
    /// directory.
    pub must_be_dir: bool,
}

/// Resolve `path` against the absolute, normalized directory `base`.
pub(crate) fn resolve(base: &[u8], path: &[u8]) -> GuestPath {
    let mut components: Vec<&[u8]> = Vec::new();
    if !path.starts_with(b"/") {
        components.extend(base.split(|&b| b == b'/').filter(|c| !c.is_empty()));
    }
    for component in path.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => {
                components.pop();
            }
            name => components.push(name),
        }
    }
    let last = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    let must_be_dir = path.ends_with(b"/") || last == b"." || last == b"..";
    GuestPath {
        path: join(&components),
        must_be_dir,
    }
}

fn join(components: &[&[u8]]) -> Vec<u8> {
    if components.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for component in components {
        out.push(b'/');
        out.extend_from_slice(component);
    }
    out
}

/// If `path` is `prefix` or lies beneath it (both normalized), the rest of `path` relative
/// to `prefix` (empty for `prefix` itself).
pub(crate) fn strip_prefix<'a>(path: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix == b"/" {
        return Some(&path[1..]);
    }
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix(b"/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(base: &str, path: &str) -> (String, bool) {
        let r = resolve(base.as_bytes(), path.as_bytes());
        (String::from_utf8(r.path).unwrap(), r.must_be_dir)
    }

    #[test]
    fn absolute_and_relative() {
        assert_eq!(norm("/", "/a/b"), ("/a/b".into(), false));
        assert_eq!(norm("/x/y", "a//b/"), ("/x/y/a/b".into(), true));
        assert_eq!(norm("/x/y", "./a/./b"), ("/x/y/a/b".into(), false));
        assert_eq!(norm("/x/y", "/"), ("/".into(), true));
        assert_eq!(norm("/x/y", "."), ("/x/y".into(), true));
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        assert_eq!(norm("/x/y", ".."), ("/x".into(), true));
        assert_eq!(
            norm("/x/y", "../../../../etc/passwd"),
            ("/etc/passwd".into(), false)
        );
        assert_eq!(norm("/", "/../../.."), ("/".into(), true));
        assert_eq!(norm("/data", "a/../../b"), ("/b".into(), false));
    }

    #[test]
    fn prefixes() {
        assert_eq!(strip_prefix(b"/data/x/y", b"/data"), Some(&b"x/y"[..]));
        assert_eq!(strip_prefix(b"/data", b"/data"), Some(&b""[..]));
        assert_eq!(strip_prefix(b"/database", b"/data"), None);
        assert_eq!(strip_prefix(b"/a/b", b"/"), Some(&b"a/b"[..]));
        assert_eq!(strip_prefix(b"/", b"/"), Some(&b""[..]));
    }
}
