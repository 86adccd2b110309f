//! Writing a run into docs/BENCHMARKS.md: the document keeps its prose, and
//! each run replaces the text between two markers named after a section,
//! `<!-- alerthub-load: begin NAME -->` and `<!-- alerthub-load: end NAME -->`
//! (`current` for the run of today's code, `before` for an older build's
//! run given with `--server-bin`).

fn markers(section: &str) -> (String, String) {
    (
        format!("<!-- alerthub-load: begin {section} -->"),
        format!("<!-- alerthub-load: end {section} -->"),
    )
}

/// `doc` with the text between the markers of `section` replaced by `content`.
pub fn splice(doc: &str, section: &str, content: &str) -> Result<String, String> {
    let (begin, end) = markers(section);
    let start = doc
        .find(&begin)
        .ok_or_else(|| format!("no {begin:?} line in the document"))?
        + begin.len();
    let stop = doc[start..]
        .find(&end)
        .ok_or_else(|| format!("no {end:?} after {begin:?}"))?
        + start;
    Ok(format!(
        "{}\n{}\n{}",
        &doc[..start],
        content.trim_end(),
        &doc[stop..]
    ))
}

/// A section name: letters, digits and dashes.
pub fn valid_section(section: &str) -> bool {
    !section.is_empty()
        && section
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_and_the_rest_kept() {
        let doc = "# B\nintro\n<!-- alerthub-load: begin current -->\nold\ntable\n<!-- alerthub-load: end current -->\nafter\n<!-- alerthub-load: begin before -->\n<!-- alerthub-load: end before -->\n";
        let out = splice(doc, "current", "new table\n").unwrap();
        assert_eq!(
            out,
            "# B\nintro\n<!-- alerthub-load: begin current -->\nnew table\n<!-- alerthub-load: end current -->\nafter\n<!-- alerthub-load: begin before -->\n<!-- alerthub-load: end before -->\n"
        );
        let out2 = splice(&out, "before", "b").unwrap();
        assert!(out2.contains("begin before -->\nb\n<!-- alerthub-load: end before"));
        assert!(out2.contains("new table"));
        // Writing twice gives the same document.
        assert_eq!(splice(&out, "current", "new table").unwrap(), out);
    }

    #[test]
    fn missing_markers_are_an_error() {
        assert!(splice("no markers", "current", "x").is_err());
        assert!(splice("<!-- alerthub-load: begin current -->", "current", "x").is_err());
        assert!(valid_section("before") && valid_section("after-2"));
        assert!(!valid_section("") && !valid_section("a b") && !valid_section("x-->"));
    }
}
