//! The Train tab's live view of a run: warnings, the progress line, the loss and CER/WER plots,
//! and the validation samples.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, Points};

use super::TrainTab;

impl TrainTab {
    pub(super) fn plots_ui(&mut self, ui: &mut egui::Ui) {
        for w in &self.warnings {
            ui.colored_label(ui.visuals().warn_fg_color, format!("Warning: {w}"));
        }
        if !self.validation_label.is_empty() {
            let mut line = format!("Validation: {}", self.validation_label);
            if let Some(b) = &self.baseline {
                let now = self.curves.cer.iter().map(|p| p[1]).reduce(f64::min);
                line += &format!(
                    ". Starting model: CER {:.1} %{}",
                    b.val_cer,
                    now.map(|n| format!(" → best so far {n:.1} %")).unwrap_or_default()
                );
            }
            ui.label(line);
        }
        let c = &self.curves;
        ui.horizontal(|ui| {
            ui.strong("Loss");
            ui.label(match (c.step_loss.last(), c.smoothed.last()) {
                (Some(l), Some(s)) => format!(
                    "{} points, last {:.3} (smoothed {:.3}) at step {}",
                    c.step_loss.len(),
                    l[1],
                    s[1],
                    l[0]
                ),
                _ => "no points yet".into(),
            });
        });
        // Three plots: training and validation losses are on different scales (the validation
        // loss is summed per utterance), so each gets its own axis.
        // The mouse wheel scrolls the page, not a plot, and a plot cannot be dragged off its
        // data; right-drag zooms into a box, and "Fit to data" (or a double-click) undoes it.
        ui.horizontal(|ui| {
            if ui.small_button("Fit to data").clicked() {
                self.fit_plots = true;
            }
            ui.weak("right-drag on a plot to zoom into a box; double-click also fits it");
        });
        let fit = std::mem::take(&mut self.fit_plots);
        let w = ui.available_width();
        let third = (w / 3.0 - 8.0).max(160.0);
        let plot = |id: &str, x: &str, y: &str| {
            let p = Plot::new(id.to_string())
                .height(220.0)
                .width(third)
                .legend(Legend::default())
                .x_axis_label(x.to_string())
                .y_axis_label(y.to_string())
                .y_axis_min_width(36.0)
                .y_grid_spacer(egui_plot::uniform_grid_spacer(nice_steps))
                .include_y(0.0)
                .allow_scroll(false)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_boxed_zoom(true)
                .allow_double_click_reset(true);
            if fit { p.reset() } else { p }
        };
        let (blue, orange, grey) = (
            egui::Color32::from_rgb(31, 119, 180),
            egui::Color32::from_rgb(230, 126, 34),
            egui::Color32::from_gray(140),
        );
        ui.horizontal(|ui| {
            plot("loss", "step", "training loss").show(ui, |p| {
                p.line(
                    Line::new("step", c.step_loss.clone())
                        .color(egui::Color32::from_rgba_unmultiplied(120, 160, 220, 110)),
                );
                p.line(Line::new("smoothed", c.smoothed.clone()).width(2.0).color(blue));
                p.line(Line::new("epoch mean", c.epoch_loss.clone()).color(orange));
                p.points(Points::new("epoch mean", c.epoch_loss.clone()).radius(3.0).color(orange));
            });
            plot("val-loss", "step", "validation loss").show(ui, |p| {
                p.line(Line::new("validation", c.val_loss.clone()).width(2.0).color(blue));
                p.points(Points::new("validation", c.val_loss.clone()).radius(3.0).color(blue));
            });
            let baseline = self.baseline.clone();
            plot("rates", "epoch", "%").show(ui, |p| {
                if let Some(b) = &baseline {
                    p.hline(
                        egui_plot::HLine::new("CER before fine-tuning", b.val_cer)
                            .width(1.0)
                            .color(grey),
                    );
                }
                p.line(Line::new("CER", c.cer.clone()).width(2.0).color(blue));
                p.points(Points::new("CER", c.cer.clone()).radius(3.0).color(blue));
                p.line(Line::new("WER", c.wer.clone()).width(2.0).color(orange));
                p.points(Points::new("WER", c.wer.clone()).radius(3.0).color(orange));
            });
        });
    }

    pub(super) fn samples_ui(&self, ui: &mut egui::Ui) {
        if self.samples.is_empty() {
            return;
        }
        ui.strong("Validation samples: reference (left), what the model heard (right)");
        egui::Grid::new("samples").striped(true).num_columns(2).show(ui, |ui| {
            for s in &self.samples {
                ui.label(&s.reference);
                ui.label(egui::RichText::new(&s.hypothesis).monospace());
                ui.end_row();
            }
        });
    }
}

/// Grid steps of 1, 2 or 5 × 10^k giving about five labelled lines over the visible range (the
/// default log-10 grid labels only 0 and 100 on a short CER plot), with half steps as faint lines.
fn nice_steps(input: egui_plot::GridInput) -> [f64; 3] {
    let span = (input.bounds.1 - input.bounds.0).abs().max(1e-9);
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let step = p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    };
    [step / 2.0, step, step * 10.0]
}
