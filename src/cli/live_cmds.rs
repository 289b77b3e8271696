//! Live-audio commands: `hark devices`.

use std::process::ExitCode;

use crate::audio::capture::{DeviceInfo, list_input_devices};

/// `hark devices`: lists the input devices that can be recorded from, the default marked `*`.
/// With none usable it prints "no microphone found: …" on stderr and exits 2.
pub fn devices() -> ExitCode {
    let devices = match list_input_devices() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("hark: {e}");
            return ExitCode::from(2);
        }
    };
    let (usable, unusable): (Vec<&DeviceInfo>, Vec<&DeviceInfo>) =
        devices.iter().partition(|d| d.default_config.is_some());
    if usable.is_empty() {
        let why = unusable
            .iter()
            .find(|d| d.is_default)
            .or(unusable.first())
            .map(|d| format!("{} ({}): {}", d.name, d.id, d.unavailable.as_deref().unwrap_or("?")))
            .unwrap_or_else(|| "the audio host lists no input devices".into());
        eprintln!(
            "hark: no microphone found: {why} (is a microphone connected, or a sound server such as \
             PulseAudio running?)"
        );
        return ExitCode::from(2);
    }
    println!(
        "input devices (* = default; a name or id, or a unique part of one, selects a device):"
    );
    for d in usable {
        let Some(c) = d.default_config.as_ref() else { continue };
        println!(
            "{} {}  [{}]  {} Hz, {} ch, {}",
            if d.is_default { "*" } else { " " },
            d.name,
            d.id,
            c.sample_rate_hz,
            c.channels,
            c.sample_format
        );
    }
    ExitCode::SUCCESS
}
