//! `hark features` end to end: its CSV and NPY output equal python_speech_features' reference
//! (tests/data/mfcc, see its README) to 1e-3, and bad input exits with code 2.

use std::path::Path;
use std::process::Command;

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mfcc").join(name)
}

fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap()).collect())
        .collect()
}

fn hark(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hark")).args(args).output().unwrap()
}

#[test]
fn csv_and_npy_match_python_speech_features() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("f.csv");
    let npy = dir.path().join("f.npy");
    let wav = data("speech_16k.wav");
    for out in [&csv, &npy] {
        let o = hark(&["features", wav.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let reference = read_csv(&data("psf_mfcc39.csv"));
    let ours = read_csv(&csv);
    assert_eq!((ours.len(), ours[0].len()), (reference.len(), 39));
    let mut worst = (0.0f64, 0, 0);
    for (t, (a, b)) in ours.iter().zip(&reference).enumerate() {
        for (c, (x, y)) in a.iter().zip(b).enumerate() {
            if (x - y).abs() > worst.0 {
                worst = ((x - y).abs(), t, c);
            }
        }
    }
    assert!(
        worst.0 <= 1e-3,
        "worst |error| {} at frame {}, coefficient {}",
        worst.0,
        worst.1,
        worst.2
    );

    // NPY: a v1.0 header with the shape, then the same values as little-endian f32.
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.contains(&format!("'shape': ({}, 39)", reference.len())), "{header}");
    let values: Vec<f32> = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), reference.len() * 39);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(*v, ours[i / 39][i % 39] as f32, "npy and csv disagree at value {i}");
    }
}

#[test]
fn bad_input_and_bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("notes.wav");
    std::fs::write(&txt, "not audio at all").unwrap();
    let out = dir.path().join("x.npy");
    let o = hark(&["features", txt.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("notes.wav"));
    assert!(!out.exists(), "no output file after a failure");
    let wav = data("speech_16k.wav");
    let o = hark(&[
        "features",
        wav.to_str().unwrap(),
        "--out",
        dir.path().join("x.txt").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(".npy or .csv"));
    let o = hark(&[
        "features",
        wav.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--num-ceps",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = hark(&["features", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
}
