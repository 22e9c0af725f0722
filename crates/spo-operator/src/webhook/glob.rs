//! Image patterns of `ProfileBinding.spec.image`.
//!
//! `*` alone matches every image; inside a pattern `*` matches any run of
//! characters, `/` and `:` included, so `*/nginx:*` matches
//! `docker.io/library/nginx:1.27` and `quay.io/x/nginx:latest` alike.
//! Everything else is compared byte for byte with the image as the pod
//! writes it: the API server does not normalise image names, and neither
//! does the webhook (`nginx` does not match `docker.io/library/nginx`).

/// Whether `image` matches `pattern`.
pub fn image_matches(pattern: &str, image: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), image.as_bytes());
    // Iterative wildcard match: on a mismatch, retry from the last `*`,
    // letting it swallow one more byte. Linear in practice, never
    // exponential.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// How specific a pattern is, for choosing among several bindings that
/// match one container: an exact image beats any pattern, a longer literal
/// part beats a shorter one, and `*` alone comes last.
pub fn specificity(pattern: &str) -> (bool, usize) {
    (!pattern.contains('*'), pattern.bytes().filter(|&b| b != b'*').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_everything() {
        for image in ["nginx", "", "quay.io/a/b:c@sha256:00"] {
            assert!(image_matches("*", image), "{image}");
        }
    }

    #[test]
    fn patterns_cross_slashes_and_colons() {
        assert!(image_matches("*/nginx:*", "docker.io/library/nginx:1.27"));
        assert!(image_matches("*/nginx:*", "quay.io/nginx:latest"));
        assert!(!image_matches("*/nginx:*", "nginx:1.27"));
        assert!(!image_matches("*/nginx:*", "docker.io/library/nginx"));
        assert!(!image_matches("*/nginx:*", "docker.io/library/nginx-exporter"));
        assert!(image_matches("registry.example/team/*", "registry.example/team/api:v2"));
        assert!(image_matches("*nginx*", "my-nginx-proxy"));
        assert!(image_matches("a*b*c", "aXXbYYbc"));
        assert!(!image_matches("a*b*c", "aXXbYYb"));
    }

    #[test]
    fn literal_patterns_match_only_themselves() {
        assert!(image_matches("nginx:1.19.1", "nginx:1.19.1"));
        assert!(!image_matches("nginx:1.19.1", "nginx:1.19.10"));
        assert!(!image_matches("nginx", "docker.io/library/nginx"));
        assert!(!image_matches("", "nginx"));
    }

    #[test]
    fn exact_images_are_most_specific() {
        let mut patterns = vec!["*", "*/nginx:*", "docker.io/library/nginx:1.27", "*nginx*"];
        patterns.sort_by_key(|p| std::cmp::Reverse(specificity(p)));
        assert_eq!(patterns, ["docker.io/library/nginx:1.27", "*/nginx:*", "*nginx*", "*"]);
    }
}
