//! AdmissionReview bodies as the API server sends them, through every
//! webhook path with empty caches: decoding, the profile validation behind
//! `spoc validate`, bindings, recordings, pod policy and patches. No body
//! may panic, and every answer is an AdmissionReview with a response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spo_operator::webhook::{Admission, Caches, Endpoint};

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static ADMISSION: (Admission, spo_operator::webhook::cache::Writers) = {
            let (caches, writers) = Caches::empty();
            (Admission::new(caches), writers)
        };
    }
    ADMISSION.with(|(a, _)| {
        for endpoint in [Endpoint::Validate, Endpoint::MutatePods, Endpoint::MutateProfiles, Endpoint::MarkRecording] {
            let answer = a.review(endpoint, data);
            let v: serde_json::Value = serde_json::from_slice(&answer).expect("the answer is JSON");
            assert!(v.get("response").is_some(), "no response: {v}");
        }
    });
});
