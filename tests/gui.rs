//! The desktop app driven through egui_kittest on its real state (no window, no GPU): choose a
//! labeled folder, read the report, train and watch the curves, stop; transcribe a file, search
//! and export; listen to a file in Live; save a take in Record; switch tabs. Plus: `hark` without
//! a display, and (when Xvfb is installed) the real binary in a virtual X server.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use hark::ctc::Alphabet;
use hark::features::{FeatureOptions, Normalization};
use hark::gui::{HarkApp, Settings, Tab};
use hark::model::{ArchConfig, Model, ModelConfig};
use hark::runtime::decoder::DecoderSetup;
use hark::runtime::transcribe::Transcriber;

const SR: f64 = 16_000.0;

/// A hand-set model that emits "a" while a loud 1 kHz tone plays and blank otherwise (the same
/// construction as tests/transcribe.rs): the input gate opens on the first log-mel energy
/// channel, and the projection maps the LSTM output to "a" versus blank. Its transcripts are known
/// in advance, so the test checks what the Files and Live tabs show against the audio we wrote.
fn tone_model() -> Model {
    const A: f32 = 0.5;
    const K: f32 = 10.0;
    let features = FeatureOptions {
        delta_order: 0,
        normalization: Normalization::None,
        ..FeatureOptions::default()
    };
    let arch = ArchConfig { hidden: 1, layers: 1, dropout: 0.0, ..ArchConfig::default() };
    let mut cfg = ModelConfig::new(arch, features, Alphabet::default());
    cfg.name = "tone detector".into();
    let mut m = Model::new(cfg).unwrap();
    let a_label = m.config.alphabet.label('a').unwrap();
    let d = m.config.arch.input_dim;
    let mut t = m.net.params_mut();
    for dir in 0..2 {
        let base = dir * 4;
        let w_ih = &mut *t[base];
        w_ih.fill(0.0);
        w_ih[2 * d] = A;
        t[base + 1].fill(0.0);
        t[base + 2].copy_from_slice(&[20.0, -20.0, 0.0, 20.0]);
        t[base + 3].fill(0.0);
    }
    let w = &mut *t[8];
    w.fill(0.0);
    w[0] = -K;
    w[1] = -K;
    w[2 * a_label] = K;
    w[2 * a_label + 1] = K;
    let b = &mut *t[9];
    b.fill(-20.0);
    b[0] = 0.0;
    b[a_label] = 0.0;
    m
}

fn tone(seconds: f64) -> Vec<f32> {
    let n = (seconds * SR).round() as usize;
    (0..n)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / SR as f32).sin())
        .collect()
}

fn silence(seconds: f64) -> Vec<f32> {
    vec![0.0; (seconds * SR).round() as usize]
}

/// Saves the tone model in `dir/model` and returns that path.
fn save_tone_model(dir: &Path) -> PathBuf {
    let p = dir.join("model");
    tone_model().save(&p).unwrap();
    p
}

fn harness(app: HarkApp) -> Harness<'static, HarkApp> {
    Harness::builder()
        .with_size([1200.0, 900.0])
        .build_ui_state(|ui, app: &mut HarkApp| app.ui(ui), app)
}

/// Steps the UI until `cond` holds (background threads need wall time), or fails naming `what`.
fn wait_for(
    h: &mut Harness<'static, HarkApp>,
    seconds: f64,
    what: &str,
    mut cond: impl FnMut(&Harness<'static, HarkApp>) -> bool,
) {
    let t0 = Instant::now();
    loop {
        h.step();
        if cond(h) {
            return;
        }
        assert!(
            t0.elapsed().as_secs_f64() < seconds,
            "timed out after {seconds} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn shows(h: &Harness<'static, HarkApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Every label text (or value) in the UI containing `text`.
fn texts(h: &Harness<'static, HarkApp>, text: &str) -> Vec<String> {
    h.query_all_by_label_contains(text)
        .map(|n| {
            let a = n.accesskit_node();
            a.value().or_else(|| a.label()).unwrap_or_default()
        })
        .collect()
}

/// Types `text` into the text field labelled `label`.
fn type_into(h: &mut Harness<'static, HarkApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

fn app_with_model(model: &Path, tab: Tab) -> HarkApp {
    HarkApp::new(Settings { tab, model: Some(model.to_path_buf()), ..Settings::default() })
}

#[test]
fn train_tab_reports_the_data_trains_with_live_curves_and_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::espeak_corpus(&data, 24, 3);
    // One broken pair: the report must list it with its reason.
    std::fs::write(data.join("broken.txt"), "no audio for this one\n").unwrap();
    let model = save_tone_model(tmp.path());
    let mut app = app_with_model(&model, Tab::Train);
    let s = &mut app.train.settings;
    s.epochs = 200;
    s.hidden = 16;
    s.layers = 1;
    s.batch_size = 4;
    s.augmentation = hark::gui::train::AugmentChoice::Off;
    s.validation_percent = 15.0;
    s.out_dir = tmp.path().join("run").display().to_string();
    let mut h = harness(app);
    h.step();

    type_into(&mut h, "Labeled folder", &data.display().to_string());
    assert_eq!(h.state().train.settings.data, data.display().to_string());
    h.get_by_label("Check data").click();
    wait_for(&mut h, 20.0, "the dataset report", |h| shows(h, "Training data: 24 utterances"));
    assert!(shows(&h, "1 skipped"), "{:?}", texts(&h, "Training data"));
    let problems = texts(&h, "broken.txt");
    assert!(
        problems.iter().any(|p| p.contains("missing audio") || p.contains("no audio")),
        "the broken pair is listed with its reason: {problems:?}"
    );

    h.get_by_label("Start training").click();
    wait_for(&mut h, 30.0, "loss points and progress", |h| {
        h.state().train.curves.step_loss.len() >= 4 && shows(h, "Step ")
    });
    let loss_label = texts(&h, "points, last");
    assert_eq!(loss_label.len(), 1, "{loss_label:?}");
    let points: usize = loss_label[0].split_whitespace().next().unwrap().parse().unwrap();
    assert!(points >= 4, "{loss_label:?}");
    let t = &h.state().train;
    assert!(t.curves.step_loss.iter().all(|p| p[1].is_finite() && p[1] > 0.0));
    assert!(t.progress.step >= 4 && t.progress.fraction() > 0.0);
    let bar = texts(&h, "Step ");
    assert!(bar.iter().any(|b| b.contains(" / ") && b.contains("epoch")), "{bar:?}");
    // Steps keep arriving while the window stays responsive.
    let before = h.state().train.curves.step_loss.len();
    wait_for(&mut h, 20.0, "more steps", |h| h.state().train.curves.step_loss.len() > before);

    h.get_by_label("Stop").click();
    wait_for(&mut h, 30.0, "the run to stop", |h| !h.state().train.is_running());
    h.step();
    assert!(shows(&h, "Status: Run stopped"), "{:?}", texts(&h, "Status"));
    // The bar says where the run ended, not a stale ETA.
    let bar = texts(&h, "Step ");
    assert!(bar.iter().any(|b| b.ends_with("· stopped") && !b.contains("ETA")), "{bar:?}");
    assert!(tmp.path().join("run").join("checkpoint.safetensors").is_file());
    // A stopped run can be resumed from the same folder.
    assert!(shows(&h, "Resume saved run"));
}

#[test]
fn train_tab_fine_tunes_the_loaded_model_widened() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::espeak_corpus(&data, 12, 4);
    // The tone model widened to 12 units (same function), so the field's floor is visible.
    let mut tone12 = tone_model();
    tone12.net = tone12.net.widen(12, 0.0, 1).unwrap();
    tone12.config.arch = tone12.net.config.clone();
    let model = tmp.path().join("tone12");
    tone12.save(&model).unwrap();
    let mut app = app_with_model(&model, Tab::Train);
    let s = &mut app.train.settings;
    s.epochs = 50;
    s.batch_size = 4;
    s.augmentation = hark::gui::train::AugmentChoice::Off;
    s.hidden = 8;
    s.out_dir = tmp.path().join("run").display().to_string();
    s.data = data.display().to_string();
    s.name = "tone, retrained".into();
    let mut h = harness(app);
    wait_for(&mut h, 10.0, "the model", |h| h.state().shared.model.model.is_some());
    h.get_by_label("the current model").click();
    h.step();
    // Fine-tuning never narrows: the field moves up to the loaded model's width.
    assert_eq!(h.state().train.settings.hidden, 12);
    // Wider than the loaded model: the run starts from the widened model.
    h.state_mut().train.settings.hidden = 16;
    h.get_by_label("Start training").click();
    wait_for(&mut h, 30.0, "training steps", |h| h.state().train.curves.step_loss.len() >= 2);
    h.get_by_label("Stop").click();
    wait_for(&mut h, 30.0, "the run to stop", |h| !h.state().train.is_running());
    let job = std::fs::read_to_string(tmp.path().join("run").join("train.json")).unwrap();
    assert!(job.contains("\"widen_to\": 16"), "{job}");
    let last = hark::model::Model::load(&tmp.path().join("run").join("last")).unwrap();
    assert_eq!(last.config.arch.hidden, 16);
    assert_eq!(last.config.name, "tone, retrained");
}

/// After a run, starting another into the same folder asks first and writes nothing until
/// answered: Cancel starts nothing, "Use a new folder" trains elsewhere, "Replace it" replaces the
/// run (with a log of its own).
#[test]
fn train_tab_asks_before_a_second_run_replaces_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::espeak_corpus(&data, 12, 6);
    let model = save_tone_model(tmp.path());
    let run = tmp.path().join("run");
    let mut app = app_with_model(&model, Tab::Train);
    let s = &mut app.train.settings;
    s.epochs = 1;
    s.hidden = 8;
    s.layers = 1;
    s.batch_size = 4;
    s.augmentation = hark::gui::train::AugmentChoice::Off;
    s.validation_percent = 25.0;
    s.out_dir = run.display().to_string();
    s.data = data.display().to_string();
    let mut h = harness(app);
    h.step();
    let finish = |h: &mut Harness<'static, HarkApp>| {
        wait_for(h, 60.0, "the run to finish", |h| {
            !h.state().train.is_running() && h.state().train.finished_model.is_some()
        });
    };
    h.get_by_label("Start training").click();
    h.step();
    finish(&mut h);
    let weights = std::fs::read(run.join("model.safetensors")).unwrap();

    h.state_mut().train.settings.hidden = 10;
    h.get_by_label("Start training").click();
    h.step();
    h.step();
    assert!(!h.state().train.is_running(), "a run started without asking");
    assert!(shows(&h, "already holds a 1×8 model"), "{:?}", texts(&h, "already"));
    h.get_by_label("Cancel").click();
    h.step();
    h.step(); // the layout without the question (the buttons move up)
    assert!(h.state().train.replace_question().is_none() && !h.state().train.is_running());
    assert_eq!(std::fs::read(run.join("model.safetensors")).unwrap(), weights);

    h.get_by_label("Start training").click();
    h.step();
    h.step();
    assert!(
        h.state().train.replace_question().is_some(),
        "asked again: {:?} {:?}",
        h.state().train.error,
        texts(&h, "Start")
    );
    h.get_by_label("Use a new folder").click();
    h.step();
    finish(&mut h);
    let other = PathBuf::from(&h.state().train.settings.out_dir);
    assert_ne!(other, run);
    assert_eq!(std::fs::read(run.join("model.safetensors")).unwrap(), weights);
    assert_eq!(hark::model::Model::load(&other).unwrap().config.arch.hidden, 10);

    // The new folder holds a run now too: asked again, and "Replace it" replaces it.
    h.state_mut().train.settings.epochs = 2;
    h.get_by_label("Start training").click();
    h.step();
    h.step();
    h.get_by_label("Replace it").click();
    h.step();
    finish(&mut h);
    assert_eq!(PathBuf::from(&h.state().train.settings.out_dir), other);
    let log = std::fs::read_to_string(other.join("log.jsonl")).unwrap();
    let epochs = log.lines().filter(|l| l.starts_with("{\"epoch\":{")).count();
    assert_eq!(epochs, 2, "the replaced run's log lines are gone");
}

#[test]
fn files_tab_transcribes_a_file_searches_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let model = save_tone_model(tmp.path());
    let wav = tmp.path().join("two tones.wav");
    let audio = [silence(0.5), tone(1.0), silence(1.5), tone(0.8), silence(0.7)].concat();
    hark::audio::write_wav_16k(&wav, &audio).unwrap();
    let mut h = harness(app_with_model(&model, Tab::Files));
    wait_for(&mut h, 10.0, "the model", |h| h.state().shared.model.model.is_some());
    assert!(shows(&h, "Model: tone detector"));

    // Enter in the path box adds the file, as "Add" does.
    type_into(&mut h, "or path:", &wav.display().to_string());
    h.key_press(eframe::egui::Key::Enter);
    h.step();
    wait_for(&mut h, 20.0, "the transcript", |h| shows(h, "done: 2 segment(s)"));
    // Each segment: "[start → end]" then its text; the tones start at 0.5 s and 3.0 s.
    let stamps = texts(&h, " → ");
    assert_eq!(stamps.len(), 2, "{stamps:?}");
    let start = |s: &str| -> f64 {
        let t = s.trim_start_matches('[').split(' ').next().unwrap();
        let (m, sec) = t.split_once(':').unwrap();
        m.parse::<f64>().unwrap() * 60.0 + sec.parse::<f64>().unwrap()
    };
    assert!((start(&stamps[0]) - 0.5).abs() < 0.3, "{stamps:?}");
    assert!((start(&stamps[1]) - 3.0).abs() < 0.3, "{stamps:?}");
    assert_eq!(h.query_all_by_label("a").count(), 2, "both segments read \"a\"");

    type_into(&mut h, "Search", "zzz");
    assert!(shows(&h, "no segment matches the search"));

    let out = tmp.path().join("exported");
    h.get_by_label("SRT").click();
    h.step();
    type_into(&mut h, "to folder", &out.display().to_string());
    h.get_by_label("Export all").click();
    h.step();
    let srt = std::fs::read_to_string(out.join("two tones.srt")).unwrap();
    assert!(srt.contains("-->") && srt.contains("\na\n"), "{srt}");
    assert!(shows(&h, "Saved 1 transcript(s)"));

    // Exporting again would replace the file: asked first; Cancel keeps it, Replace writes.
    std::fs::write(out.join("two tones.srt"), "mine").unwrap();
    h.get_by_label("Export all").click();
    h.step();
    assert!(shows(&h, "1 of the transcripts already exist in"), "asked before replacing");
    h.get_by_label("Cancel").click();
    h.step();
    h.step();
    assert_eq!(std::fs::read_to_string(out.join("two tones.srt")).unwrap(), "mine");
    assert!(shows(&h, "Nothing was exported."));
    h.get_by_label("Export…").click();
    h.step();
    h.step();
    assert!(shows(&h, "two tones.srt already exists. Replace it?"));
    h.get_by_label("Replace").click();
    h.step();
    h.step();
    assert_eq!(std::fs::read_to_string(out.join("two tones.srt")).unwrap(), srt);
}

#[test]
fn files_given_at_launch_open_the_files_tab() {
    let tmp = tempfile::tempdir().unwrap();
    let model = save_tone_model(tmp.path());
    let wav = tmp.path().join("t.wav");
    hark::audio::write_wav_16k(&wav, &[silence(0.3), tone(0.5), silence(0.5)].concat()).unwrap();
    // The last-used tab was Train; files on the command line show the Files tab.
    let launch = hark::gui::Launch { files: vec![wav], ..Default::default() };
    let app = app_with_model(&model, Tab::Train).with_launch(launch);
    assert_eq!(app.tab, Tab::Files);
    let mut h = harness(app);
    wait_for(&mut h, 20.0, "the launched file", |h| shows(h, "done: 1 segment(s)"));
    // An explicit --tab still wins.
    let launch = hark::gui::Launch { tab: Some(Tab::Models), files: vec![], ..Default::default() };
    assert_eq!(app_with_model(&model, Tab::Train).with_launch(launch).tab, Tab::Models);
}

/// The text of the `i`-th file in the Files queue, once it is done.
fn file_text(h: &Harness<'static, HarkApp>, i: usize) -> Option<String> {
    match &h.state().files.items.get(i)?.state {
        hark::gui::files::FileState::Done(t) => Some(t.text()),
        _ => None,
    }
}

#[test]
fn files_tab_decodes_with_the_shipped_language_model_and_can_turn_it_off() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model_dir = root.join("models/default");
    let wav = root.join("assets/samples/pico-en-us.wav");
    // What the library gives with the model's own decoder settings, and greedily.
    let model = Model::load(&model_dir).unwrap();
    let shipped = DecoderSetup::for_model(&model_dir).unwrap();
    assert!(shipped.lm.is_some(), "the default model ships with a word LM");
    let mut with_lm = Transcriber::new(model.clone());
    with_lm.set_decoder(shipped.clone());
    let want_lm = with_lm.transcribe_file(&wav, &mut |_| {}).unwrap().text();
    // Greedy keeps the model's warp ensemble (it is acoustic), as the CLI's --no-lm does.
    let mut greedy = Transcriber::new(model);
    greedy.set_decoder(DecoderSetup { warps: shipped.warps.clone(), ..DecoderSetup::greedy() });
    let want_greedy = greedy.transcribe_file(&wav, &mut |_| {}).unwrap().text();
    assert_ne!(want_lm, want_greedy, "the sample must tell the two decodings apart");

    let mut h = harness(app_with_model(&model_dir, Tab::Models));
    wait_for(&mut h, 60.0, "the model and its LM", |h| h.state().shared.model.model.is_some());
    let rows = texts(&h, "word LM lm.arpa");
    // Shipped and in use (the LM is on); the status bar says it too, the recorded measurements
    // say how they decoded.
    let exact = rows.iter().filter(|r| **r == shipped.describe()).count();
    assert_eq!(exact, 2, "Models shows the shipped decoding and the one in use: {rows:?}");
    assert!(rows.contains(&format!("Decoding: {}", shipped.describe())), "{rows:?}");
    assert!(h.state().shared.use_lm);

    h.get_by_label("Files").click();
    h.step();
    type_into(&mut h, "or path:", &wav.display().to_string());
    h.get_by_label("Add").click();
    wait_for(&mut h, 60.0, "the transcript with the LM", |h| file_text(h, 0).is_some());
    assert_eq!(file_text(&h, 0).unwrap(), want_lm);

    // Off: greedy decoding, the same as the CLI's --no-lm; the choice is saved with the settings.
    h.get_by_label_contains("Word language model").click();
    h.step();
    assert!(!h.state().shared.use_lm);
    assert!(!h.state().settings().use_lm);
    type_into(&mut h, "or path:", &wav.display().to_string());
    h.get_by_label("Add").click();
    wait_for(&mut h, 60.0, "the greedy transcript", |h| file_text(h, 1).is_some());
    assert_eq!(file_text(&h, 1).unwrap(), want_greedy);
}

#[test]
fn live_tab_transcribes_a_file_played_in_real_time() {
    let tmp = tempfile::tempdir().unwrap();
    let model = save_tone_model(tmp.path());
    let wav = tmp.path().join("live.wav");
    hark::audio::write_wav_16k(&wav, &[silence(0.3), tone(0.6), silence(1.0)].concat()).unwrap();
    let mut app = app_with_model(&model, Tab::Live);
    app.live.settings.source = hark::gui::live::Source::File;
    let mut h = harness(app);
    wait_for(&mut h, 10.0, "the model", |h| h.state().shared.model.model.is_some());
    type_into(&mut h, "Audio file", &wav.display().to_string());
    h.get_by_label("Start").click();
    wait_for(&mut h, 10.0, "listening", |h| shows(h, "Listening to the file"));
    wait_for(&mut h, 15.0, "the final line and the end of the input", |h| {
        !h.state().live.is_running() && !h.state().live.finals.is_empty()
    });
    h.step();
    let finals = &h.state().live.finals;
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert_eq!(finals[0].text, "a");
    // The line spans the tone (0.3–0.9 s), give or take the endpointer's margins.
    assert!(finals[0].start_s <= 0.35 && finals[0].end_s >= 0.85, "{finals:?}");
    assert!(finals[0].end_s <= 1.9, "{finals:?}");
    assert!(h.state().live.envelope.iter().any(|[_, hi]| *hi > 0.2), "the waveform saw the tone");
    assert!(shows(&h, "[0:00."), "{:?}", texts(&h, "→"));
    assert!(shows(&h, "Stopped"));
}

#[test]
fn record_tab_saves_numbered_takes_and_tabs_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let model = save_tone_model(tmp.path());
    let folder = tmp.path().join("my voice");
    let mut h = harness(app_with_model(&model, Tab::Live));
    wait_for(&mut h, 10.0, "the model", |h| h.state().shared.model.model.is_some());

    // Tabs: each shows its own content.
    for (tab, expect) in [
        ("Files", "No files yet"),
        ("Train", "Labeled folder"),
        ("Models", "tone detector"),
        ("Record", "Sentence 1 of 300"),
    ] {
        h.get_by_label(tab).click();
        h.step();
        h.step();
        assert!(shows(&h, expect), "tab {tab} shows {expect:?}");
    }
    assert_eq!(h.state().tab, Tab::Record);

    type_into(&mut h, "Recordings folder", &folder.display().to_string());
    let prompt = h.state().record.prompt().to_string();
    assert!(shows(&h, &prompt));
    // A take as the microphone would deliver it (the test machine has no microphone).
    h.state_mut().record.samples = tone(0.5);
    h.step();
    h.get_by_label("Save and next").click();
    h.step();
    h.step();
    assert_eq!(std::fs::read_to_string(folder.join("001.txt")).unwrap().trim(), prompt);
    assert_eq!(hark::audio::read_mono_16k(&folder.join("001.wav")).unwrap().len(), 8000);
    assert!(shows(&h, "1 recording(s) in the folder"));
    assert!(shows(&h, "Sentence 2 of 300"));

    // Settings survive a restart.
    let saved = serde_json::to_string(&h.state().settings()).unwrap();
    let back: Settings = serde_json::from_str(&saved).unwrap();
    assert_eq!(back.tab, Tab::Record);
    assert_eq!(back.record.folder, folder.display().to_string());
    assert_eq!(back.record.prompt, 1);
}

#[test]
fn without_a_display_hark_points_to_the_cli_and_exits_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no display") && err.contains("hark --help"), "{err}");
}

/// The real binary in a virtual X server: the window opens, stays up and paints something, and
/// no "ALSA lib …" line reaches stderr although, as in a root shell or `ssh -X`, there is no
/// XDG_RUNTIME_DIR and no sound server. (libwayland's "XDG_RUNTIME_DIR is invalid" line is not
/// asserted: it appeared in one full-suite run and in no run of this test alone.) Skipped (with the reason printed) when
/// Xvfb or ImageMagick is missing.
#[test]
fn window_opens_under_xvfb() {
    let have = |p: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("Xvfb") || !have("import") {
        eprintln!("skipped: Xvfb or ImageMagick `import` is not installed (scripts/setup.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let display = format!(":{}", 90 + std::process::id() % 100);
    let mut xvfb = std::process::Command::new("Xvfb")
        .args([display.as_str(), "-screen", "0", "1100x760x24", "-nolisten", "tcp"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let mut app = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(["gui", "--tab", "record"])
        .env("DISPLAY", &display)
        .env("XDG_DATA_HOME", tmp.path())
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("PULSE_SERVER")
        .stderr(std::fs::File::create(tmp.path().join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(6));
    let alive = app.try_wait().unwrap().is_none();
    let shot = tmp.path().join("shot.png");
    let import = std::process::Command::new("import")
        .args(["-display", &display, "-window", "root"])
        .arg(&shot)
        .status()
        .unwrap();
    let stddev = std::process::Command::new("convert")
        .arg(&shot)
        .args(["-format", "%[fx:standard_deviation]", "info:"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().unwrap_or(0.0));
    let _ = app.kill();
    let _ = app.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(alive, "the app exited within 6 s");
    assert!(import.success());
    let stddev = stddev.unwrap();
    assert!(stddev > 0.02, "the screenshot is blank (standard deviation {stddev})");
    let stderr = std::fs::read_to_string(tmp.path().join("stderr.txt")).unwrap();
    assert!(!stderr.contains("ALSA lib"), "alsa-lib's lines reached stderr: {stderr}");
}
