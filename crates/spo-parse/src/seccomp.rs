//! Seccomp profiles from text.
