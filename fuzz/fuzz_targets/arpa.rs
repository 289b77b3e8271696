#![no_main]
// See src/fuzzing.rs: the target's body lives in the library, so tests/fuzz_corpora.rs replays
// this target's corpus and regressions on stable.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hark::fuzzing::arpa(data));
