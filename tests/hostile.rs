//! Files that lie about their sizes, through the CLI as a user meets them: each must give a clear
//! error naming the file and the claim, exit with code 2, and allocate nothing near the claimed
//! size. The commands run under a 1 GB address-space limit (`ulimit -v`), so a claim that still
//! drove an allocation would fail there (exit 134, "memory allocation … failed") instead of
//! passing on a machine with enough swap. Also: the exit codes (2 for the input or environment,
//! 1 for Hark's own bugs), a full disk and a read-only folder during training.

mod common;

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

/// (exit code, stdout, stderr) of `hark ARGS` with extra environment variables.
fn hark_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_hark")).args(args).envs(env.iter().copied()).output();
    let out = out.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bug_exits_1_and_asks_for_a_report_an_input_problem_exits_2() {
    // A panic is Hark's bug: exit 1 (not Rust's 101) and a request to report it.
    let (code, _, err) = hark_env(&["info", "x.wav"], &[("HARK_TEST_PANIC", "1")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("This is a bug in Hark") && err.contains("please report it"), "{err}");
    // Missing file, unknown option, malformed model: the user's input, exit 2.
    let (code, _, err) = hark_env(&["transcribe", "/nonexistent/a.wav"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/a.wav"), "{err}");
    assert_eq!(hark_env(&["transcribe", "--no-such-flag"], &[]).0, 2);
    assert_eq!(hark_env(&["eval", "/nonexistent-folder"], &[]).0, 2);
    // A mistyped data folder leaves no run folder behind (the default one is runs/NAME-DATE).
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(["train", "/nonexistent-folder", "--epochs", "1"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-folder"), "{err}");
    assert!(!err.contains("run folder"), "a run folder was announced for missing data: {err}");
    assert!(!cwd.path().join("runs").exists(), "an empty run folder was left");
    assert_eq!(hark_env(&["lm", "build", "/nonexistent.txt", "--out", "/tmp/x.arpa"], &[]).0, 2);
}

#[test]
fn a_full_standard_output_is_an_environment_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .arg("transcribe")
        .arg(sample())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("standard output: No space left on device"), "{err}");
}

/// A small tmpfs mounted for one test, unmounted on drop; None where mounting is not allowed
/// (not root, or a container without the capability): the test then says it was skipped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, opts: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        }
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn train_args<'a>(data: &'a Path, out: &'a Path, hidden: &'a str) -> Vec<&'a std::ffi::OsStr> {
    [
        "train".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--epochs".as_ref(),
        "6".as_ref(),
        "--hidden".as_ref(),
        hidden.as_ref(),
        "--layers".as_ref(),
        "1".as_ref(),
        "--no-augment".as_ref(),
        "--checkpoint-minutes".as_ref(),
        "0.002".as_ref(),
    ]
    .to_vec()
}

#[test]
fn a_full_disk_or_read_only_folder_stops_training_with_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::espeak_corpus(&data, 24, 5);
    // 3 MB: the first best model (0.4 MB) and checkpoint (1.2 MB) fit, a second checkpoint
    // beside the first (written in full before the rename) does not.
    let small = dir.path().join("small");
    let Some(_m) = Tmpfs::mount(&small, "size=3m") else { return };
    let run = small.join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(train_args(&data, &run, "64"))
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot save: No space left on device"), "{err}");
    assert!(err.contains("the previous file is unchanged"), "{err}");
    // What was saved before the disk filled loads; no partial file is left.
    let (code, _, e) = hark_env(
        &[
            "transcribe",
            "--no-lm",
            "--model",
            run.to_str().unwrap(),
            data.join("u0000.wav").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "the model saved before the disk filled must load: {e}");
    let names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "partial file left: {names:?}");

    let ro = dir.path().join("ro");
    let Some(_r) = Tmpfs::mount(&ro, "size=1m,ro") else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(train_args(&data, &ro.join("run"), "32"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
}
