//! "Did you mean" suggestions shared by every diagnostic in the project.

/// The candidate closest to `word`, if it is close enough to be a plausible
/// typo (Jaro-Winkler similarity of at least 0.8, or a case-insensitive
/// match).
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(&'a str, f64)> = None;
    for cand in candidates {
        if cand.eq_ignore_ascii_case(word) {
            return Some(cand);
        }
        let score = strsim::jaro_winkler(&lower, &cand.to_ascii_lowercase());
        // Ties go to the alphabetically first candidate, so the suggestion
        // does not depend on the order candidates come in (hash order).
        if score >= 0.8 && best.is_none_or(|(b, s)| score > s || (score == s && cand < b)) {
            best = Some((cand, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_words_only() {
        let words = ["mkdir", "mkdirat", "rmdir", "read"];
        assert_eq!(did_you_mean("mkdirr", words), Some("mkdir"));
        assert_eq!(did_you_mean("MKDIR", words), Some("mkdir"));
        assert_eq!(did_you_mean("socket", words), None);
    }

    #[test]
    fn ties_do_not_depend_on_candidate_order() {
        let a = did_you_mean("mkdirx", ["mkdirb", "mkdira"]);
        let b = did_you_mean("mkdirx", ["mkdira", "mkdirb"]);
        assert_eq!(a, b);
        assert_eq!(a, Some("mkdira"));
    }
}
