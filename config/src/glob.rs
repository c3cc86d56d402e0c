//! Model-list patterns: `*` stands for any run of characters. One definition, compiled into
//! both the config compiler (which checks that a key's patterns name something) and the
//! gateway (which checks a request against them); `src/keys` includes this file with
//! `#[path]`. Self-contained: nothing here may use `crate::`.

/// `text` matches `pattern`, each `*` standing for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(rest) = text.strip_prefix(parts.next().unwrap_or_default()) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    let mut rest = rest;
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob("claude-*", "claude-3-haiku"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(!glob("claude-*", "gpt-4o"));
        assert!(!glob("gpt-4o", "gpt-4o-mini"));
        assert!(!glob("a*c", "abcd"));
    }
}
