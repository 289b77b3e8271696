//! Files that lie about their sizes, through the CLI as a user meets them: each must give a clear
//! error naming the file and the claim, exit with code 2, and allocate nothing near the claimed
//! size. The commands run under a 1 GB address-space limit (`ulimit -v`), so a claim that still
//! drove an allocation would fail there (exit 134, "memory allocation … failed") instead of
//! passing on a machine with enough swap.

use std::path::{Path, PathBuf};
use std::process::Command;

fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples/espeak-en-gb-scotland.wav")
}

/// (exit code, stdout, stderr) of `hark ARGS` under a 1 GB address-space limit.
fn hark_limited(args: &[&Path]) -> (i32, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_hark"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the default model's config beside its weights (hard-linked, or copied), with
/// `edit` applied to the config.
fn edited_model(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let m = dir.join("m");
    std::fs::create_dir_all(&m).unwrap();
    let src = default_model();
    let weights = m.join("model.safetensors");
    if std::fs::hard_link(src.join("model.safetensors"), &weights).is_err() {
        std::fs::copy(src.join("model.safetensors"), &weights).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("model.json")).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(m.join("model.json"), serde_json::to_string(&cfg).unwrap()).unwrap();
    m
}

fn assert_input_error(r: &(i32, String, String), needles: &[&str]) {
    let (code, _, err) = r;
    assert_eq!(*code, 2, "expected exit 2, stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!err.contains("memory allocation"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn set_hidden(h: u64) -> impl FnOnce(&mut serde_json::Value) {
    move |c| c["arch"]["hidden"] = h.into()
}

#[test]
fn model_config_claiming_a_huge_network_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = edited_model(dir.path(), set_hidden(1_000_000_000));
    let r = hark_limited(&["transcribe".as_ref(), "--model".as_ref(), &m, &sample()]);
    assert_input_error(&r, &["model.json", "arch.hidden is 1000000000"]);
}

#[test]
fn model_config_within_bounds_but_unlike_its_weights_names_the_tensor() {
    // 2000 units is a legal size (a 2.6e8-parameter network, 1 GB of f32) but not what the
    // weights hold: the shapes are compared before any tensor exists.
    let dir = tempfile::tempdir().unwrap();
    let m = edited_model(dir.path(), set_hidden(2000));
    let r = hark_limited(&["transcribe".as_ref(), "--model".as_ref(), &m, &sample()]);
    assert_input_error(&r, &["model.safetensors", "lstm.weight_ih_l0", "expected shape [8000,"]);
}

#[test]
fn model_config_whose_parameter_count_overflows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = edited_model(dir.path(), |c| {
        c["arch"]["hidden"] = 8192.into();
        c["arch"]["layers"] = 64.into();
    });
    let r = hark_limited(&["transcribe".as_ref(), "--model".as_ref(), &m, &sample()]);
    assert_input_error(&r, &["model.json", "parameters, more than the 1000000000"]);
}

#[test]
fn arpa_header_claiming_more_ngrams_than_the_file_holds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lm = dir.path().join("big.arpa");
    std::fs::write(&lm, "\\data\\\nngram 1=99999999999\n\n\\1-grams:\n-1.0 a\n\n\\end\\\n")
        .unwrap();
    let r = hark_limited(&["transcribe".as_ref(), "--lm".as_ref(), &lm, &sample()]);
    assert_input_error(&r, &["big.arpa", "announces 99999999999 n-grams"]);
    // Counts whose sum overflows.
    std::fs::write(
        &lm,
        "\\data\\\nngram 1=18446744073709551615\nngram 2=5\n\n\\1-grams:\n-1.0 a\n\\end\\\n",
    )
    .unwrap();
    let r = hark_limited(&["transcribe".as_ref(), "--lm".as_ref(), &lm, &sample()]);
    assert_input_error(&r, &["big.arpa", "more than 2^64"]);
}

#[test]
fn decoder_settings_with_an_absurd_beam_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = edited_model(dir.path(), |_| {});
    std::fs::write(m.join("decoder.json"), r#"{"beam": 1000000000000}"#).unwrap();
    let r = hark_limited(&["transcribe".as_ref(), "--model".as_ref(), &m, &sample()]);
    assert_input_error(&r, &["decoder.json", "beam 1000000000000 is wider than the 4096"]);
    let r =
        hark_limited(&["transcribe".as_ref(), "--beam".as_ref(), "99999999".as_ref(), &sample()]);
    assert_input_error(&r, &["beam 99999999 is wider"]);
}

#[test]
fn deepspeech_row_with_an_unclosed_quote_is_a_malformed_row_not_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    std::fs::copy(sample(), ds.join("a.wav")).unwrap();
    std::fs::write(
        ds.join("train.csv"),
        "wav_filename,wav_filesize,transcript\na.wav,3,one two\n\"unterminated,3,hello\na.wav,3,x\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(["eval".as_ref(), ds.join("train.csv").as_os_str(), "--no-lm".as_ref()])
        .output()
        .unwrap();
    let all =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("train.csv:3: bad manifest row"), "{all}");
    assert!(all.contains("opened on line 3 is never closed"), "{all}");
    assert!(!all.contains("does not exist"), "read as a path: {all}");
    assert!(all.contains("1 utterances"), "the good row is still read: {all}");
}
