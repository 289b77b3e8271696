//! Weight averaging: one model whose every parameter is the mean of the same parameter in
//! several models of one training trajectory (checkpoint averaging, as fairseq's
//! `average_checkpoints.py` and ESPnet's `average_checkpoints` do; Polyak averaging over epochs).
//! Consecutive epochs of a fine-tune at a constant learning rate wander around a minimum; their
//! mean sits nearer its centre, and usually recognizes better than any one of them.
//!
//! The mean is only meaningful for models that share a trajectory (the epochs of one run, or a
//! run and the model it fine-tuned): two models trained apart from different random weights have
//! unrelated units, and their mean recognizes nothing. That cannot be checked from the files, so
//! the training record keeps what was averaged ([`TrainingInfo::averaged_from`]). What can be
//! checked is: architecture, front end, normalization statistics and alphabet must be identical.

use crate::model::{ArchConfig, Model, TrainingInfo};
use crate::nn::params::NamedTensor;
use crate::{Error, Result};

/// The mean of `models` (at least one), parameter by parameter, accumulated in f64. The config
/// (name, front end, training record) is the last model's, since the last is normally the newest
/// epoch; its validation figures and evaluations are dropped (they measured other weights) and
/// `averaged_from` lists `labels` (one per model, e.g. their paths).
pub fn average(models: &[Model], labels: &[String]) -> Result<Model> {
    let Some(last) = models.last() else {
        return Err(Error::Options("average: no models given".into()));
    };
    if labels.len() != models.len() {
        return Err(Error::Internal(format!(
            "average: {} labels for {} models",
            labels.len(),
            models.len()
        )));
    }
    let base = &last.config;
    for (m, label) in models.iter().zip(labels) {
        let c = &m.config;
        let same_shape = ArchConfig { seed: base.arch.seed, ..c.arch.clone() } == base.arch;
        let differs = if !same_shape {
            Some(format!(
                "architecture {}×{} (stack {}, {} inputs, {} labels)",
                c.arch.layers,
                c.arch.hidden,
                c.arch.stack_frames,
                c.arch.input_dim,
                c.arch.num_labels
            ))
        } else if c.arch.seed != base.arch.seed {
            Some(format!(
                "initial weights (seed {} against {}: trained apart, its units are unrelated)",
                c.arch.seed, base.arch.seed
            ))
        } else if c.features != base.features {
            Some("feature options".to_string())
        } else if c.cmvn != base.cmvn {
            Some("normalization statistics".to_string())
        } else if c.alphabet != base.alphabet {
            Some("alphabet".to_string())
        } else {
            None
        };
        if let Some(what) = differs {
            return Err(Error::Options(format!(
                "{label} cannot be averaged with {}: its {what} differ; only models of one \
                 training run (or a run and the model it fine-tuned) can be averaged",
                labels[labels.len() - 1]
            )));
        }
    }
    let params = last.net.params();
    let mut sums: Vec<Vec<f64>> = params.iter().map(|(_, _, d)| vec![0.0; d.len()]).collect();
    for m in models {
        for (sum, (_, _, data)) in sums.iter_mut().zip(m.net.params()) {
            for (s, &x) in sum.iter_mut().zip(data) {
                *s += f64::from(x);
            }
        }
    }
    let n = models.len() as f64;
    let named: Vec<NamedTensor<f32>> = params
        .iter()
        .zip(sums)
        .map(|((name, shape, _), sum)| {
            (name.clone(), shape.to_vec(), sum.into_iter().map(|s| (s / n) as f32).collect())
        })
        .collect();
    let source = last.source.clone().unwrap_or_default();
    let net = crate::model::AcousticModel::from_named(base.arch.clone(), named, &source)?;
    let mut config = base.clone();
    config.training = TrainingInfo {
        val_cer: None,
        val_wer: None,
        val_loss: None,
        validation: String::new(),
        start_val_cer: None,
        start_val_wer: None,
        evaluations: Vec::new(),
        averaged_from: labels.to_vec(),
        saved_unix_s: crate::util::unix_now_s(),
        hark_version: env!("CARGO_PKG_VERSION").to_string(),
        ..base.training.clone()
    };
    Ok(Model { config, net, source: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctc::Alphabet;
    use crate::features::FeatureOptions;
    use crate::model::{ArchConfig, ModelConfig};

    fn small(seed: u64) -> Model {
        let arch = ArchConfig { hidden: 4, layers: 2, seed, ..ArchConfig::default() };
        Model::new(ModelConfig::new(arch, FeatureOptions::default(), Alphabet::default())).unwrap()
    }

    #[test]
    fn every_parameter_is_the_mean() {
        // Three points of one trajectory: the same start, moved apart.
        let nudged = |k: f32| {
            let mut m = small(1);
            for (i, t) in m.net.params_mut().into_iter().enumerate() {
                for (j, x) in t.iter_mut().enumerate() {
                    *x += k * (((i * 31 + j * 7) % 13) as f32 - 6.0) * 1e-2;
                }
            }
            m
        };
        let (a, b, c) = (small(1), nudged(1.0), nudged(-0.5));
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let avg = average(&[a.clone(), b.clone(), c.clone()], &labels).unwrap();
        let (pa, pb, pc, pm) = (a.net.params(), b.net.params(), c.net.params(), avg.net.params());
        assert_eq!(pm.len(), pa.len());
        let mut checked = 0;
        for i in 0..pm.len() {
            assert_eq!(pm[i].0, pa[i].0);
            assert_eq!(pm[i].1, pa[i].1);
            for j in 0..pm[i].2.len() {
                let want =
                    (f64::from(pa[i].2[j]) + f64::from(pb[i].2[j]) + f64::from(pc[i].2[j])) / 3.0;
                assert!((f64::from(pm[i].2[j]) - want).abs() < 1e-7, "{} [{j}]", pm[i].0);
                checked += 1;
            }
        }
        assert!(checked > 100);
        // The mean is none of the inputs.
        assert_ne!(pm[0].2, pa[0].2);
        assert_ne!(pm[0].2, pb[0].2);
        assert_eq!(avg.config.training.averaged_from, labels);
        assert_eq!(avg.config.training.val_cer, None);
    }

    #[test]
    fn one_model_averages_to_itself() {
        let a = small(5);
        let avg = average(std::slice::from_ref(&a), &["a".to_string()]).unwrap();
        for (x, y) in a.net.params().iter().zip(avg.net.params()) {
            assert_eq!(x.2, y.2);
        }
    }

    #[test]
    fn different_architectures_are_refused() {
        let a = small(1);
        let arch = ArchConfig { hidden: 6, layers: 2, seed: 1, ..ArchConfig::default() };
        let b = Model::new(ModelConfig::new(arch, FeatureOptions::default(), Alphabet::default()))
            .unwrap();
        let e = average(&[a, b], &["runs/a".into(), "runs/b".into()]).unwrap_err().to_string();
        assert!(e.contains("runs/a cannot be averaged with runs/b"), "{e}");
        assert!(e.contains("architecture 2×4"), "{e}");
        assert!(average(&[], &[]).is_err());
        let e = average(&[small(1), small(2)], &["x".into(), "y".into()]).unwrap_err().to_string();
        assert!(e.contains("initial weights (seed 1 against 2"), "{e}");
    }
}
