//! Model files: round trips, PyTorch interoperability (tests/data/model/, see its README), hostile
//! safetensors and config files (each must fail with an error naming the problem, never panic),
//! the model bundle and checkpoints (resume continues bit for bit).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hark::Error;
use hark::model::file::{
    self, CHECKPOINT_FORMAT_VERSION, MODEL_FORMAT_VERSION, ModelPaths, NamedTensor, StorageDtype,
    TensorRef,
};
use hark::nn::optim::{Adam, AdamConfig, LrSchedule, LrScheduleConfig, clip_grad_norm};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/model")
}

/// The error message, asserting it is a `Model` error about `path`.
fn model_err<T: std::fmt::Debug>(r: hark::Result<T>, path: &Path) -> String {
    match r {
        Err(Error::Model { path: p, reason }) => {
            assert_eq!(p, path, "error names the wrong file: {reason}");
            reason
        }
        other => panic!("expected a model error, got {other:?}"),
    }
}

fn assert_mentions(msg: &str, words: &[&str]) {
    for w in words {
        assert!(msg.contains(w), "error `{msg}` should mention `{w}`");
    }
}

/// A little pseudo-random model: a (2, 3) weight and a (2,) bias.
fn small() -> Vec<NamedTensor> {
    vec![
        NamedTensor::new("layer.weight", vec![2, 3], vec![0.5, -1.0, 3.25, 1e-30, -0.0, 7.0e20])
            .unwrap(),
        NamedTensor::new("layer.bias", vec![2], vec![0.125, -4.5]).unwrap(),
    ]
}

fn expected_of(ts: &[NamedTensor]) -> Vec<(String, Vec<usize>)> {
    ts.iter().map(|t| (t.name.clone(), t.shape.clone())).collect()
}

fn small_expected() -> Vec<(String, Vec<usize>)> {
    expected_of(&small())
}

/// A hand-built safetensors file: 8-byte length, header, data.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Two F32 tensors `a` (2,) and `b` (3,) described by `header`, with 20 bytes of data.
fn two_tensor_file(header: &str) -> Vec<u8> {
    raw_file(header, &f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0]))
}
const GOOD_HEADER: &str = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#;

fn ab_expected() -> Vec<(String, Vec<usize>)> {
    vec![("a".into(), vec![2]), ("b".into(), vec![3])]
}

/// Loads `bytes` from a real file (the same path the application uses).
fn load_bytes(
    dir: &Path,
    bytes: &[u8],
    expected: &[(String, Vec<usize>)],
) -> (PathBuf, hark::Result<Vec<NamedTensor>>) {
    let path = dir.join("t.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let r = file::load_weights(&path, expected);
    // The in-memory parser must agree with the file loader.
    let r2 = file::parse_weights(&path, bytes, expected);
    assert_eq!(r.is_ok(), r2.is_ok());
    (path, r)
}

#[test]
fn round_trip_is_exact_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let mut meta = BTreeMap::new();
    meta.insert("note".to_string(), "hello".to_string());
    let ts = small();
    file::save_weights(&p, &ts, &meta).unwrap();
    let first = std::fs::read(&p).unwrap();
    // Borrowed views write the same bytes.
    let views: Vec<TensorRef<'_>> = ts.iter().map(|t| t.view()).collect();
    file::save_weights(&p, &views, &meta).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), first);

    let (back, md) = file::load_weights_with_metadata(&p, &small_expected()).unwrap();
    assert_eq!(md.get("note").map(String::as_str), Some("hello"));
    for (a, b) in ts.iter().zip(&back) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.shape, b.shape);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.data), bits(&b.data), "{}", a.name);
    }
    // Expected order decides the output order.
    let rev: Vec<_> = small_expected().into_iter().rev().collect();
    let back = file::load_weights(&p, &rev).unwrap();
    assert_eq!(back[0].name, "layer.bias");

    let (info, _) = file::inspect_weights(&p).unwrap();
    assert_eq!(info.len(), 2);
    assert!(info.iter().all(|t| t.dtype == StorageDtype::F32));
}

#[test]
fn f16_round_trip_within_half_precision() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.safetensors");
    let vals: Vec<f32> =
        (0..200).map(|i| ((i as f32) * 0.731).sin() * 10f32.powi(i % 7 - 3)).collect();
    let ts = vec![NamedTensor::new("w", vec![10, 20], vals.clone()).unwrap()];
    file::save_weights_f16(&p, &ts, &BTreeMap::new()).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len() as usize, 8 + header_len(&p) + 400);
    let back = file::load_weights(&p, &expected_of(&ts)).unwrap();
    for (x, y) in vals.iter().zip(&back[0].data) {
        // Half precision: 11 significant bits for normals (relative error ≤ 2⁻¹¹), absolute
        // spacing 2⁻²⁴ for subnormals.
        let tol = x.abs() * 2f32.powi(-11) + 2f32.powi(-25);
        assert!((x - y).abs() <= tol, "{x} came back as {y}");
    }
    // Values beyond F16's range are refused rather than turned into infinities.
    let big = vec![NamedTensor::new("w", vec![1], vec![1e6]).unwrap()];
    let msg = model_err(file::save_weights_f16(&p, &big, &BTreeMap::new()), &p);
    assert_mentions(&msg, &["`w`", "F16"]);
}

fn header_len(p: &Path) -> usize {
    let b = std::fs::read(p).unwrap();
    u64::from_le_bytes(b[..8].try_into().unwrap()) as usize
}

#[test]
fn saving_refuses_bad_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.safetensors");
    let nan = vec![NamedTensor { name: "w".into(), shape: vec![2], data: vec![1.0, f32::NAN] }];
    assert_mentions(
        &model_err(file::save_weights(&p, &nan, &BTreeMap::new()), &p),
        &["`w`", "element 1"],
    );
    let dup = vec![small()[1].clone(), small()[1].clone()];
    assert_mentions(&model_err(file::save_weights(&p, &dup, &BTreeMap::new()), &p), &["twice"]);
    let wrong = vec![NamedTensor { name: "w".into(), shape: vec![3], data: vec![1.0] }];
    assert_mentions(
        &model_err(file::save_weights(&p, &wrong, &BTreeMap::new()), &p),
        &["`w`", "shape"],
    );
    assert!(!p.exists(), "nothing may be written when saving fails");
    assert!(NamedTensor::new("w", vec![2, 2], vec![0.0; 3]).is_err());
}

// ------------------------------------------------------------------ PyTorch interoperability

#[derive(Deserialize)]
struct TorchFixture {
    tensors: Vec<TorchTensor>,
}
#[derive(Deserialize)]
struct TorchTensor {
    name: String,
    shape: Vec<usize>,
    data: Vec<f64>,
}

/// The PyTorch `nn.LSTM(5, 4, num_layers=2, bidirectional=True)` + `nn.Linear(8, 6)` state dict,
/// expected names and shapes written out from the nn.LSTM documentation (not from the file).
fn torch_expected() -> Vec<(String, Vec<usize>)> {
    let (d, h, v) = (5, 4, 6);
    let mut out = Vec::new();
    for layer in 0..2 {
        let input = if layer == 0 { d } else { 2 * h };
        for suffix in ["", "_reverse"] {
            out.push((format!("lstm.weight_ih_l{layer}{suffix}"), vec![4 * h, input]));
            out.push((format!("lstm.weight_hh_l{layer}{suffix}"), vec![4 * h, h]));
            out.push((format!("lstm.bias_ih_l{layer}{suffix}"), vec![4 * h]));
            out.push((format!("lstm.bias_hh_l{layer}{suffix}"), vec![4 * h]));
        }
    }
    out.push(("proj.weight".into(), vec![v, 2 * h]));
    out.push(("proj.bias".into(), vec![v]));
    out
}

fn torch_fixture() -> TorchFixture {
    serde_json::from_str(&std::fs::read_to_string(data_dir().join("torch_lstm.json")).unwrap())
        .unwrap()
}

#[test]
fn loads_a_pytorch_bilstm_state_dict() {
    let fx = torch_fixture();
    let expected = torch_expected();
    let loaded = file::load_weights(&data_dir().join("torch_lstm.safetensors"), &expected).unwrap();
    assert_eq!(loaded.len(), fx.tensors.len());
    for t in &loaded {
        let want = fx.tensors.iter().find(|w| w.name == t.name).expect("name in fixture");
        assert_eq!(t.shape, want.shape);
        for (a, b) in t.data.iter().zip(&want.data) {
            assert_eq!(*a, *b as f32, "{}", t.name);
        }
    }
    // The F16 copy of the same weights.
    let half =
        file::load_weights(&data_dir().join("torch_lstm_f16.safetensors"), &expected).unwrap();
    for (t, f) in loaded.iter().zip(&half) {
        for (a, b) in t.data.iter().zip(&f.data) {
            assert!(
                (a - b).abs() <= a.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                "{}: {a} vs {b}",
                t.name
            );
        }
    }
    // A model of another size is refused with the tensor and both shapes named.
    let mut wrong = expected.clone();
    wrong[0].1 = vec![32, 5];
    let p = data_dir().join("torch_lstm.safetensors");
    let msg = model_err(file::load_weights(&p, &wrong), &p);
    assert_mentions(&msg, &["`lstm.weight_ih_l0`", "[32, 5]", "[16, 5]"]);
}

#[test]
fn hark_can_rewrite_the_pytorch_model() {
    // Load → save with Hark → compare with tests/data/model/hark_lstm.safetensors, the file that was
    // checked to load in PyTorch with load_state_dict(strict=True) (see the README there). Hark's
    // output must stay byte-identical so that check keeps holding. Regenerate the golden file with
    // `HARK_WRITE_FIXTURES=1 cargo test --test model_file hark_can_rewrite`.
    let expected = torch_expected();
    let loaded = file::load_weights(&data_dir().join("torch_lstm.safetensors"), &expected).unwrap();
    let mut md = BTreeMap::new();
    md.insert("made_by".to_string(), "hark tests/model_file.rs".to_string());
    let golden = data_dir().join("hark_lstm.safetensors");
    if std::env::var_os("HARK_WRITE_FIXTURES").is_some() {
        file::save_weights(&golden, &loaded, &md).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hark_lstm.safetensors");
    file::save_weights(&p, &loaded, &md).unwrap();
    assert_eq!(
        std::fs::read(&p).unwrap(),
        std::fs::read(&golden).unwrap(),
        "Hark's safetensors output changed"
    );
    assert_eq!(file::load_weights(&p, &expected).unwrap(), loaded);
}

// ------------------------------------------------------------------ hostile weight files

#[test]
fn good_hand_built_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (_, r) = load_bytes(dir.path(), &two_tensor_file(GOOD_HEADER), &ab_expected());
    let t = r.unwrap();
    assert_eq!(t[0].data, vec![1.0, 2.0]);
    assert_eq!(t[1].data, vec![3.0, 4.0, 5.0]);
}

#[test]
fn hostile_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = two_tensor_file(GOOD_HEADER);
    let exp = ab_expected();
    let case = |bytes: &[u8], exp: &[(String, Vec<usize>)], words: &[&str]| {
        let (path, r) = load_bytes(dir.path(), bytes, exp);
        let msg = model_err(r, &path);
        assert_mentions(&msg, words);
    };

    // Empty and too short.
    case(b"", &exp, &["0 bytes", "too short"]);
    case(&[1, 0, 0], &exp, &["3 bytes"]);
    // Truncated: the last tensor runs past the end of the data.
    case(&good[..good.len() - 4], &exp, &["`b`", "past the end", "truncated"]);
    // Header length larger than the file.
    let mut b = good.clone();
    b[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    case(&b, &exp, &["header length", "follow"]);
    // Absurd header length (u64::MAX): refused before reading anything.
    b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    case(&b, &exp, &["header length", "limit"]);
    // Not JSON / not UTF-8 / not an object.
    case(&raw_file(r#"{"a": {"dtype": "F32",  "#, &[0; 8]), &exp, &["not a valid JSON", "line 1"]);
    case(&raw_file("\u{0}\u{1}", &[]), &exp, &["JSON"]);
    let mut bad_utf8 = raw_file("{}  ", &[]);
    bad_utf8[9] = 0xFF;
    case(&bad_utf8, &exp, &["UTF-8"]);
    case(&raw_file("[1, 2]", &[]), &exp, &["JSON object"]);
    // Wrong dtype.
    case(
        &two_tensor_file(&GOOD_HEADER.replacen("F32", "I32", 1)),
        &exp,
        &["`a`", "dtype I32", "F32"],
    );
    // Shape inconsistent with the offsets.
    case(
        &two_tensor_file(&GOOD_HEADER.replace("[3]", "[4]")),
        &exp,
        &["`b`", "[4]", "16 bytes", "12 bytes"],
    );
    // Offsets past the end of the data (consistent with a bigger shape).
    let h = GOOD_HEADER
        .replace(r#""shape":[3],"data_offsets":[8,20]"#, r#""shape":[3],"data_offsets":[12,24]"#);
    case(&two_tensor_file(&h), &exp, &["`b`", "[12, 24]", "past the end"]);
    // Overlapping tensors.
    let h = r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#;
    case(
        &two_tensor_file(h),
        &[("a".into(), vec![3]), ("b".into(), vec![3])],
        &["`a`", "`b`", "overlap"],
    );
    // A hole between tensors.
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#;
    case(
        &two_tensor_file(h),
        &[("a".into(), vec![1]), ("b".into(), vec![3])],
        &["unused bytes", "`b`"],
    );
    // Trailing bytes after the last tensor.
    let mut b = good.clone();
    b.extend_from_slice(&[0; 4]);
    case(&b, &exp, &["4 extra"]);
    // Negative range and overflowing shape.
    case(&two_tensor_file(&GOOD_HEADER.replace("[8,20]", "[20,8]")), &exp, &["`b`", "negative"]);
    let h = GOOD_HEADER.replace("[3]", "[4611686018427387904, 8]");
    case(&two_tensor_file(&h), &exp, &["`b`", "overflows"]);
    // Missing field in a description.
    case(
        &two_tensor_file(&GOOD_HEADER.replacen(r#""dtype":"F32","#, "", 1)),
        &exp,
        &["`a`", "dtype"],
    );
    // Missing and unexpected tensors.
    let exp_c: Vec<_> = exp.iter().cloned().chain([("c".to_string(), vec![1])]).collect();
    case(&good, &exp_c, &["missing", "`c`"]);
    case(&good, &exp[..1], &["unexpected", "`b`"]);
    // Shape mismatch with the model.
    case(
        &good,
        &[("a".into(), vec![2]), ("b".into(), vec![3, 1])],
        &["`b`", "expected shape [3, 1]", "file has [3]"],
    );
    // NaN and Inf in the weights: the tensor and element are named.
    let mut b = good.clone();
    let at = b.len() - 8;
    b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    case(&b, &exp, &["`b`", "non-finite", "element 1", "NaN"]);
    b[at..at + 4].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
    case(&b, &exp, &["`b`", "element 1", "inf"]);
    // A hostile name (long, with control characters) is shortened and escaped in the message.
    let name = "\u{7}x".repeat(5000);
    let h = GOOD_HEADER.replacen("\"a\"", &format!("\"{}\"", name.replace('\u{7}', "\\u0007")), 1);
    let (path, r) = load_bytes(dir.path(), &two_tensor_file(&h), &exp[1..]);
    let msg = model_err(r, &path);
    assert!(msg.len() < 600 && !msg.contains('\u{7}') && msg.contains("unexpected"), "{msg}");
    // Absurdly nested JSON: serde_json's depth limit turns it into an error, not a stack overflow.
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    case(&raw_file(&deep, &[]), &exp, &["JSON"]);
    // Metadata that is not a string map.
    let h = GOOD_HEADER.replacen('{', r#"{"__metadata__":{"x":1},"#, 1);
    case(&two_tensor_file(&h), &exp, &["__metadata__"]);
}

#[test]
fn sparse_huge_weights_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.safetensors");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(file::MAX_WEIGHTS_FILE_BYTES + 1).unwrap(); // sparse: no disk used
    let msg = model_err(file::load_weights(&p, &ab_expected()), &p);
    assert_mentions(&msg, &["limit"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any corruption of a valid file gives Ok (a harmless change) or an error — never a panic.
    #[test]
    fn corrupted_files_never_panic(edits in prop::collection::vec((0usize..200, any::<u8>()), 1..6),
                                   cut in 0usize..200) {
        let mut b = two_tensor_file(GOOD_HEADER);
        for (i, v) in edits {
            let n = b.len();
            b[i % n] = v;
        }
        let _ = file::parse_weights(Path::new("fuzz"), &b, &ab_expected());
        b.truncate(cut.min(b.len()));
        let _ = file::parse_weights(Path::new("fuzz"), &b, &ab_expected());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), n in 0u64..80) {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(&bytes);
        let _ = file::parse_weights(Path::new("fuzz"), &b, &ab_expected());
    }
}

// ------------------------------------------------------------------ configs

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Features {
    sample_rate_hz: u32,
    frame_shift_ms: f64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Config {
    hidden: usize,
    layers: usize,
    features: Features,
    alphabet: String,
}

fn config() -> Config {
    Config {
        hidden: 4,
        layers: 2,
        features: Features { sample_rate_hz: 16_000, frame_shift_ms: 10.0 },
        alphabet: "_ abc'".into(),
    }
}

#[test]
fn config_round_trip_and_version_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    file::save_config(&p, &config()).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("{\n  \"format_version\": 1,\n  \"hidden\": 4"), "{text}");
    let back: Config = file::load_config(&p).unwrap();
    assert_eq!(back, config());
}

#[test]
fn bad_configs_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    let case = |text: &str, words: &[&str]| {
        std::fs::write(&p, text).unwrap();
        let msg = model_err(file::load_config::<Config>(&p), &p);
        assert_mentions(&msg, words);
    };
    let mut v: Value = serde_json::to_value(config()).unwrap();
    v["format_version"] = Value::from(MODEL_FORMAT_VERSION + 1);
    case(&v.to_string(), &["newer Hark", "format_version 2"]);
    v.as_object_mut().unwrap().remove("format_version");
    case(&v.to_string(), &["format_version"]);
    v["format_version"] = Value::from("1");
    case(&v.to_string(), &["format_version", "integer"]);
    v["format_version"] = Value::from(0);
    case(&v.to_string(), &["format_version", "expected the integer 1"]);
    case("hidden = 4\n", &["not valid JSON", "line 1"]);
    case("{\n  \"format_version\": 1,\n  \"hidden\": 4,\n", &["not valid JSON", "line"]);
    case("[1, 2, 3]", &["JSON object"]);
    // Right version, wrong contents: the field and the line are named.
    case(
        "{\n  \"format_version\": 1,\n  \"hidden\": \"four\",\n  \"layers\": 2\n}",
        &["invalid type", "line 3"],
    );
    case("{\"format_version\": 1, \"hidden\": 4}", &["missing field", "layers"]);
    std::fs::write(&p, [0xFFu8, 0xFE, b'{']).unwrap();
    assert_mentions(&model_err(file::load_config::<Config>(&p), &p), &["UTF-8"]);
}

#[test]
fn oversized_config_is_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.json");
    // A 2 GB "config": a sparse file, so nothing is written to disk.
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(2 << 30).unwrap();
    let msg = model_err(file::load_config::<Config>(&p), &p);
    assert_mentions(&msg, &["2147483648 bytes", "limit"]);
    // The limit applies to real content too.
    file::save_config(&p, &config()).unwrap();
    let msg = model_err(file::load_config_with_limit::<Config>(&p, 16), &p);
    assert_mentions(&msg, &["16-byte limit"]);
}

#[test]
fn config_must_be_an_object_without_its_own_version() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    assert!(file::save_config(&p, &42u32).is_err());
    let mut m = BTreeMap::new();
    m.insert("format_version", 7);
    assert!(file::save_config(&p, &m).is_err());
    assert!(!p.exists());
}

// ------------------------------------------------------------------ model bundle

fn expected_for(c: &Config) -> hark::Result<Vec<(String, Vec<usize>)>> {
    Ok(vec![
        ("layer.weight".into(), vec![c.hidden / 2, 3]),
        ("layer.bias".into(), vec![c.hidden / 2]),
    ])
}

#[test]
fn model_bundle_round_trip_as_stem_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    for target in [dir.path().join("en.small"), dir.path().join("bundle/")] {
        let paths = file::save_model(&target, &config(), &small()).unwrap();
        assert_eq!(paths, ModelPaths::resolve(&target));
        assert!(paths.config.exists() && paths.weights.exists());
        let (c, ts): (Config, _) = file::load_model(&target, expected_for).unwrap();
        assert_eq!(c, config());
        assert_eq!(ts, small());
    }
    assert!(dir.path().join("en.small.json").exists());
    assert!(dir.path().join("bundle/model.safetensors").exists());
    // Either file's name finds the pair.
    let (c, _): (Config, _) =
        file::load_model(&dir.path().join("en.small.safetensors"), expected_for).unwrap();
    assert_eq!(c, config());
}

#[test]
fn model_bundle_with_mismatched_weights_names_the_tensor() {
    // What a crash between the two renames can leave when the architecture changed: new weights
    // beside the old config. The loader must say so, not load garbage.
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("m");
    file::save_model(&stem, &config(), &small()).unwrap();
    let mut wider = config();
    wider.hidden = 8;
    let big = vec![
        NamedTensor::new("layer.weight", vec![4, 3], vec![0.0; 12]).unwrap(),
        NamedTensor::new("layer.bias", vec![4], vec![0.0; 4]).unwrap(),
    ];
    file::save_weights(&stem.with_extension("safetensors"), &big, &BTreeMap::new()).unwrap();
    let p = stem.with_extension("safetensors");
    let msg = model_err(file::load_model::<Config>(&stem, expected_for), &p);
    assert_mentions(&msg, &["`layer.weight`", "[2, 3]", "[4, 3]"]);
}

// ------------------------------------------------------------------ checkpoints

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TrainerState {
    epoch: u32,
    schedule: LrSchedule,
    rng_seed: u64,
}

/// A deterministic training-like loop on the small model: gradient = 0.3 (p − i) + a wiggle; a
/// scripted validation metric every 3 steps that stalls, so the schedule reduces the rate.
fn train(ts: &mut [NamedTensor], adam: &mut Adam<f32>, sched: &mut LrSchedule, steps: u64) {
    for _ in 0..steps {
        let t = adam.steps_taken();
        let mut grads: Vec<Vec<f32>> = ts
            .iter()
            .map(|x| {
                x.data
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v - i as f32) * 0.3 + ((t + i as u64) as f32).cos())
                    .collect()
            })
            .collect();
        let mut gref: Vec<&mut [f32]> = grads.iter_mut().map(|g| g.as_mut_slice()).collect();
        assert!(clip_grad_norm(&mut gref, 2.0).is_finite());
        adam.set_lr(sched.lr_at(t)).unwrap();
        let mut pref: Vec<&mut [f32]> = ts.iter_mut().map(|x| x.data.as_mut_slice()).collect();
        let gview: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
        adam.step(&mut pref, &gview).unwrap();
        if (t + 1).is_multiple_of(3) {
            sched.observe([1.0, 0.9, 0.95, 0.92][((t / 3) % 4) as usize]);
        }
    }
}

fn fresh() -> (Vec<NamedTensor>, Adam<f32>, LrSchedule) {
    let mut ts = small();
    ts[0].data = vec![0.5, -1.0, 3.25, 1e-3, 0.0, 7.0];
    let names: Vec<(String, usize)> = ts.iter().map(|t| (t.name.clone(), t.data.len())).collect();
    let adam = Adam::new(AdamConfig { weight_decay: 0.01, ..Default::default() }, &names).unwrap();
    let sched = LrSchedule::new(LrScheduleConfig {
        base_lr: 0.05,
        warmup_steps: 4,
        patience: 0,
        ..Default::default()
    })
    .unwrap();
    (ts, adam, sched)
}

#[test]
fn checkpoint_resume_is_bitwise_identical() {
    let (mut ts_a, mut adam_a, mut sched_a) = fresh();
    train(&mut ts_a, &mut adam_a, &mut sched_a, 30);

    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.safetensors");
    let (mut ts_b, mut adam_b, mut sched_b) = fresh();
    train(&mut ts_b, &mut adam_b, &mut sched_b, 13);
    let state = TrainerState { epoch: 3, schedule: sched_b.clone(), rng_seed: 99 };
    file::save_checkpoint(&ck, &ts_b, &adam_b, &state).unwrap();
    drop((ts_b, adam_b, sched_b));

    let loaded: file::Checkpoint<TrainerState> =
        file::load_checkpoint(&ck, &small_expected()).unwrap();
    assert_eq!(loaded.trainer.epoch, 3);
    assert_eq!(loaded.optimizer.steps_taken(), 13);
    let (mut ts_c, mut adam_c, mut sched_c) =
        (loaded.tensors, loaded.optimizer, loaded.trainer.schedule);
    train(&mut ts_c, &mut adam_c, &mut sched_c, 17);

    assert!(sched_a.reductions() > 0, "the run should include a plateau reduction");
    for (a, c) in ts_a.iter().zip(&ts_c) {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.data), bits(&c.data), "{}", a.name);
    }
    assert_eq!(adam_a, adam_c);
    assert_eq!(sched_a, sched_c);
}

#[test]
fn checkpoint_version_and_contents_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.safetensors");
    let (ts, adam, _) = fresh();
    // A plain weights file is not a checkpoint.
    file::save_weights(&ck, &ts, &BTreeMap::new()).unwrap();
    let msg = model_err(file::load_checkpoint::<u32>(&ck, &small_expected()), &ck);
    assert_mentions(&msg, &["not a Hark checkpoint"]);
    // A checkpoint from a newer Hark.
    let mut md = BTreeMap::new();
    md.insert(
        "hark.checkpoint_format_version".to_string(),
        (CHECKPOINT_FORMAT_VERSION + 1).to_string(),
    );
    file::save_weights(&ck, &ts, &md).unwrap();
    let msg = model_err(file::load_checkpoint::<u32>(&ck, &small_expected()), &ck);
    assert_mentions(&msg, &["newer Hark"]);
    // Moments missing.
    md.insert("hark.checkpoint_format_version".to_string(), CHECKPOINT_FORMAT_VERSION.to_string());
    md.insert("hark.optimizer".to_string(), serde_json::to_string(adam.meta()).unwrap());
    md.insert("hark.trainer".to_string(), "7".to_string());
    file::save_weights(&ck, &ts, &md).unwrap();
    let msg = model_err(file::load_checkpoint::<u32>(&ck, &small_expected()), &ck);
    assert_mentions(&msg, &["missing", "adam.m.layer.weight"]);
    // A real checkpoint, but for another model.
    file::save_checkpoint(&ck, &ts, &adam, &7u32).unwrap();
    let other = vec![("layer.weight".to_string(), vec![2, 3]), ("other.bias".to_string(), vec![2])];
    let msg = model_err(file::load_checkpoint::<u32>(&ck, &other), &ck);
    assert_mentions(&msg, &["other.bias"]);
    // Trainer state of the wrong type.
    let msg = model_err(file::load_checkpoint::<TrainerState>(&ck, &small_expected()), &ck);
    assert_mentions(&msg, &["trainer state"]);
    // Optimizer built for other tensors cannot be checkpointed with this model.
    let wrong_adam: Adam<f32> =
        Adam::new(AdamConfig::default(), &[("x".into(), 6), ("y".into(), 2)]).unwrap();
    let msg = model_err(file::save_checkpoint(&ck, &ts, &wrong_adam, &7u32), &ck);
    assert_mentions(&msg, &["`layer.weight`", "`x`"]);
}

/// PyTorch's weights in Hark's network give PyTorch's output: the forward pass of
/// `nn.LSTM(5, 4, 2 layers, bidirectional)` + `nn.Linear(8, 6)` + log_softmax on the stored input.
#[test]
fn pytorch_weights_reproduce_pytorch_output_in_hark() {
    use hark::model::acoustic::{AcousticModel, ArchConfig};
    use rand::SeedableRng;
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir().join("torch_lstm.json")).unwrap())
            .unwrap();
    let shape: Vec<usize> = fx["input_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let input: Vec<f32> =
        fx["input"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let want: Vec<f32> =
        fx["log_probs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let path = data_dir().join("torch_lstm.safetensors");
    let tensors = file::load_weights(&path, &torch_expected()).unwrap();
    let cfg = ArchConfig {
        input_dim: 5,
        hidden: 4,
        layers: 2,
        stack_frames: 1,
        subsample: 1,
        num_labels: 6,
        dropout: 0.0,
        forget_bias: 0.0,
        seed: 0,
    };
    let named = tensors.into_iter().map(|t| (t.name, t.shape, t.data)).collect();
    let net = AcousticModel::<f32>::from_named(cfg, named, &path).unwrap();
    let x = ndarray::Array3::from_shape_vec((shape[0], shape[1], shape[2]), input).unwrap();
    let lengths = vec![shape[0]; shape[1]];
    let (logits, _) = net
        .forward(x.view(), &lengths, false, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    let got = AcousticModel::log_probs(logits.view());
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert_eq!(got.len(), want.len());
    assert!(worst < 1e-5, "worst |Hark − PyTorch| = {worst}");
}
