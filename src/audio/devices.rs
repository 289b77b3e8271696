//! Input devices: which host (the sound server when one is reachable, else ALSA), which of its
//! devices a person is offered, how a name picks one, and the errors for a device that cannot
//! record. `capture` opens what these functions find.

use cpal::traits::{DeviceTrait, HostTrait};

use crate::{Error, Result};

/// A stream configuration as the device reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    pub sample_rate_hz: u32,
    pub channels: u16,
    /// cpal's name for the sample format ("i16", "f32", …).
    pub sample_format: String,
}

/// One input device as listed by `list_input_devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The host's identifier, e.g. "pulseaudio:alsa_input.usb-046d_C920-02.mono-fallback"
    /// (a sound-server source), "alsa:default" or "alsa:plughw:CARD=PCH,DEV=0".
    pub id: String,
    /// Human-readable name (the device description's first line).
    pub name: String,
    /// Whether this is the host's default input device.
    pub is_default: bool,
    /// The device's default input configuration; `None` when it cannot be opened now.
    pub default_config: Option<DeviceConfig>,
    /// Why the device cannot be opened, when `default_config` is `None`.
    pub unavailable: Option<String>,
}

/// ALSA PCMs that are not a source of sound by themselves and so are hidden from device lists:
/// `null` (endless zeros, as fast as the CPU allows), the rate converters (`lavrate`,
/// `samplerate`, `speexrate`), channel mixers (`upmix`, `vdownmix`), the `speex` DSP, bridges to
/// servers Hark does not drive through ALSA (`jack`, `oss`), and the playback-only `dmix`. They
/// are listed by libasound2-plugins on every machine, sound card or not. Kept: `default`,
/// `pulse`/`pipewire` (the sound server's sources), card-qualified PCMs (real hardware) and
/// user-defined PCMs. `hw:` is hidden when its `plughw:` twin (same card, with conversions) is
/// listed, so each card shows once.
const HIDDEN_ALSA_PCMS: &[&str] = &[
    "null",
    "lavrate",
    "samplerate",
    "speexrate",
    "upmix",
    "vdownmix",
    "speex",
    "jack",
    "oss",
    "dmix",
];

/// Whether an input device should be offered to the user (see `HIDDEN_ALSA_PCMS`).
/// `id` is the host-qualified id ("alsa:null"); `all_ids` lists every input device's id.
pub fn is_user_facing(id: &str, all_ids: &[String]) -> bool {
    let Some(pcm) = id.strip_prefix("alsa:") else { return true };
    let plugin = pcm.split(':').next().unwrap_or(pcm);
    if HIDDEN_ALSA_PCMS.contains(&plugin) {
        return false;
    }
    if let Some(rest) = pcm.strip_prefix("hw:") {
        let twin = format!("alsa:plughw:{rest}");
        return !all_ids.contains(&twin);
    }
    true
}

/// Whether `id` is a sound server's monitor source (the sound a sink plays, not a microphone).
pub fn is_monitor(id: &str) -> bool {
    is_server_device(id) && id.ends_with(".monitor")
}

/// Picks the device whose name or id matches `query`: an exact match (name, id, or id without the
/// host prefix) wins, then a case-insensitive exact match, then a unique case-insensitive
/// substring of the name or id. Returns the index into `devices`.
pub fn select_device(devices: &[DeviceInfo], query: &str) -> Result<usize> {
    // "pulse" names "alsa:pulse" exactly: the id without its host prefix counts as the id.
    let bare = |id: &str| id.split_once(':').map_or(id.to_string(), |(_, rest)| rest.to_string());
    if let Some(i) =
        devices.iter().position(|d| d.name == query || d.id == query || bare(&d.id) == query)
    {
        return Ok(i);
    }
    let q = query.to_lowercase();
    if let Some(i) =
        devices.iter().position(|d| d.name.to_lowercase() == q || d.id.to_lowercase() == q)
    {
        return Ok(i);
    }
    let hits: Vec<usize> = (0..devices.len())
        .filter(|&i| {
            devices[i].name.to_lowercase().contains(&q) || devices[i].id.to_lowercase().contains(&q)
        })
        .collect();
    let describe = |idx: &mut dyn Iterator<Item = usize>| {
        idx.map(|i| format!("{} ({})", devices[i].name, devices[i].id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match hits.as_slice() {
        [i] => Ok(*i),
        [] => Err(Error::Device(format!(
            "no input device matches \"{query}\"; available: {}",
            if devices.is_empty() { "none".into() } else { describe(&mut (0..devices.len())) }
        ))),
        _ => Err(Error::Device(format!(
            "\"{query}\" matches several input devices: {}; give more of the name",
            describe(&mut hits.iter().copied())
        ))),
    }
}

fn device_id(d: &cpal::Device) -> String {
    d.id().map(|i| i.to_string()).unwrap_or_else(|_| d.to_string())
}

fn device_name(d: &cpal::Device) -> String {
    d.description().map(|x| x.name().to_string()).unwrap_or_else(|_| device_id(d))
}

fn config_of(c: &cpal::SupportedStreamConfig) -> DeviceConfig {
    DeviceConfig {
        sample_rate_hz: c.sample_rate(),
        channels: c.channels(),
        sample_format: c.sample_format().to_string(),
    }
}

/// On a machine without sound hardware or with no sound server, alsa-lib writes lines such as
/// "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'" to stderr whenever a device is
/// listed or opened; Hark reports the problem in its own words ("no microphone found …"). On the
/// calling thread those lines go to a fresh in-memory buffer instead (alsa-lib's thread-local
/// error handler; calling this again drops the previous buffer, so it never grows).
pub(super) fn quiet_alsa() {
    #[cfg(target_os = "linux")]
    let _ = alsa::Output::local_error_handler();
}

/// The audio host: the sound server's own protocol (PulseAudio, or PipeWire through
/// pipewire-pulse) when its socket is reachable (`PULSE_SERVER`, `PULSE_RUNTIME_PATH` or
/// `XDG_RUNTIME_DIR`) and answers within 2 s, else ALSA. Through the server, devices carry the
/// names a person knows from the desktop's sound settings ("Built-in Audio Analog Stereo",
/// "Webcam C920 Mono") instead of ALSA's one "default" PCM with its description ("Playback/
/// recording through the PulseAudio sound server"), and each of the server's sources can be
/// picked. Called again on every reopen, so a server that restarted (or started after Hark) is
/// found.
pub(super) fn host() -> cpal::Host {
    quiet_alsa();
    cpal::default_host()
}

/// Whether `id` is a sound-server device (see [`host`]) rather than an ALSA PCM.
fn is_server_device(id: &str) -> bool {
    id.starts_with("pulseaudio:")
}

/// Input devices of the audio host (see [`host`]), without pseudo-devices (see
/// `is_user_facing`). Each device is opened briefly to read its default configuration.
pub fn list_input_devices() -> Result<Vec<DeviceInfo>> {
    Ok(user_facing_devices(&host())?.into_iter().map(|(_, info)| info).collect())
}

/// The stream configuration to open a device with: its default one, except that a sound-server
/// record stream asks for 20 ms fragments. Asked for nothing, the server picks its own fragment
/// size, about 2 s with PulseAudio, and every word would reach the recognizer that late. ALSA
/// devices keep their own period.
pub(super) fn stream_config(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
) -> cpal::StreamConfig {
    let mut cfg = config.config();
    if device.id().is_ok_and(|i| is_server_device(&i.to_string())) {
        let want = (config.sample_rate() / 50).max(1);
        let frames = match config.buffer_size() {
            cpal::SupportedBufferSize::Range { min, max } => want.clamp(*min, (*max).max(*min)),
            cpal::SupportedBufferSize::Unknown => want,
        };
        cfg.buffer_size = cpal::BufferSize::Fixed(frames);
    }
    cfg
}

fn user_facing_devices(host: &cpal::Host) -> Result<Vec<(cpal::Device, DeviceInfo)>> {
    let default_id = host.default_input_device().map(|d| device_id(&d));
    let mut devices: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| Error::Device(format!("cannot list input devices: {e}")))?
        .collect();
    // ALSA's `default` is not always among the hints; the host still opens it.
    if let Some(d) = host.default_input_device()
        && !devices.iter().any(|x| device_id(x) == device_id(&d))
    {
        devices.insert(0, d);
    }
    let ids: Vec<String> = devices.iter().map(device_id).collect();
    let mut out = Vec::new();
    for (d, id) in devices.into_iter().zip(ids.iter()) {
        if !is_user_facing(id, &ids) {
            continue;
        }
        let (default_config, unavailable) = match d.default_input_config() {
            Ok(c) => (Some(config_of(&c)), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let info = DeviceInfo {
            id: id.clone(),
            name: device_name(&d),
            is_default: default_id.as_deref() == Some(id.as_str()),
            default_config,
            unavailable,
        };
        out.push((d, info));
    }
    // The default device first, then microphones in host order, then a sound server's
    // monitors (what the speakers play: "Monitor of Built-in Audio"), which are kept because
    // transcribing a call or a video is a use, but are not microphones.
    out.sort_by_key(|(_, i)| (!i.is_default, is_monitor(&i.id)));
    Ok(out)
}

/// Finds and checks a device: `None` = the host's default input. Maps "cannot open" errors to a
/// clear `Error::Device("no microphone found: …")`.
pub(super) fn open_device(
    host: &cpal::Host,
    query: Option<&str>,
) -> Result<(cpal::Device, DeviceInfo, cpal::SupportedStreamConfig)> {
    let device = match query {
        None => host.default_input_device().ok_or_else(|| {
            Error::Device("no microphone found: the audio host has no default input device".into())
        })?,
        Some(q) => {
            let devs = user_facing_devices(host)?;
            let infos: Vec<DeviceInfo> = devs.iter().map(|(_, i)| i.clone()).collect();
            let i = select_device(&infos, q)?;
            devs.into_iter().nth(i).map(|(d, _)| d).ok_or_else(|| {
                Error::Device(format!("input device \"{q}\" disappeared while opening it"))
            })?
        }
    };
    let id = device_id(&device);
    let name = device_name(&device);
    // On ALSA the default device always "exists"; only opening it tells whether a microphone
    // (or a sound server) is there.
    let config = device.default_input_config().map_err(|e| open_error(&name, &id, &e))?;
    let info = DeviceInfo {
        is_default: query.is_none(),
        id,
        name,
        default_config: Some(config_of(&config)),
        unavailable: None,
    };
    Ok((device, info, config))
}

pub(super) fn open_error(name: &str, id: &str, e: &cpal::Error) -> Error {
    use cpal::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied => {
            Error::Device(format!("microphone access denied: {name} ({id}): {e}"))
        }
        K::DeviceBusy => Error::Device(format!("microphone busy: {name} ({id}): {e}")),
        K::UnsupportedConfig | K::UnsupportedOperation => {
            Error::Device(format!("no microphone found: {name} ({id}) cannot record: {e}"))
        }
        _ => Error::Device(format!(
            "no microphone found: {name} ({id}) is not available: {e} \
             (is a microphone connected, or a sound server such as PulseAudio running?)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str) -> DeviceInfo {
        DeviceInfo {
            id: id.into(),
            name: name.into(),
            is_default: false,
            default_config: None,
            unavailable: None,
        }
    }

    #[test]
    fn pseudo_devices_are_hidden_and_real_ones_kept() {
        let ids: Vec<String> = [
            "alsa:default",
            "alsa:null",
            "alsa:pulse",
            "alsa:lavrate",
            "alsa:samplerate",
            "alsa:speexrate",
            "alsa:jack",
            "alsa:oss",
            "alsa:speex",
            "alsa:upmix",
            "alsa:vdownmix",
            "alsa:sysdefault:CARD=PCH",
            "alsa:hw:CARD=PCH,DEV=0",
            "alsa:plughw:CARD=PCH,DEV=0",
            "alsa:hw:CARD=USB,DEV=0",
            "alsa:dsnoop:CARD=PCH,DEV=0",
            "alsa:testmic",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let kept: Vec<&str> =
            ids.iter().filter(|i| is_user_facing(i, &ids)).map(|s| s.as_str()).collect();
        assert_eq!(
            kept,
            [
                "alsa:default",
                "alsa:pulse",
                "alsa:sysdefault:CARD=PCH",
                "alsa:plughw:CARD=PCH,DEV=0",
                "alsa:hw:CARD=USB,DEV=0",
                "alsa:dsnoop:CARD=PCH,DEV=0",
                "alsa:testmic",
            ]
        );
    }

    #[test]
    fn sound_server_sources_are_all_offered_and_monitors_known() {
        let ids: Vec<String> = [
            "pulseaudio:alsa_input.pci-0000_00_1f.3.analog-stereo",
            "pulseaudio:vmic_sink.monitor",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(ids.iter().all(|i| is_user_facing(i, &ids)));
        assert!(!is_monitor(&ids[0]));
        assert!(is_monitor(&ids[1]));
        assert!(!is_monitor("alsa:front.monitor"), "ALSA has no monitor sources");
    }

    #[test]
    fn devices_are_selected_by_exact_or_unique_partial_name() {
        let d = [
            info("alsa:default", "Playback/recording through the PulseAudio sound server"),
            info("alsa:pulse", "PulseAudio Sound Server"),
            info("alsa:plughw:CARD=USB,DEV=0", "USB Microphone, USB Audio"),
        ];
        assert_eq!(select_device(&d, "pulse").unwrap(), 1); // id without host prefix
        assert_eq!(select_device(&d, "alsa:default").unwrap(), 0);
        assert_eq!(select_device(&d, "pulseaudio sound server").unwrap(), 1); // case-insensitive
        assert_eq!(select_device(&d, "usb mic").unwrap(), 2);
        let e = select_device(&d, "audio").unwrap_err().to_string();
        assert!(e.contains("matches several"), "{e}");
        let e = select_device(&d, "bluetooth").unwrap_err().to_string();
        assert!(e.contains("no input device matches") && e.contains("USB Microphone"), "{e}");
    }
}
