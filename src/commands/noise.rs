//! `shiftready noise`: the background-noise check alone, from the microphone or a WAV file.

use crate::checks::noise::{from_device, judge_file};
use crate::cli::NoiseArgs;
use crate::config::Loaded;
use crate::exit::{self, ExitError};
use shiftready_core::checks::noise;

/// `shiftready noise [--file WAV] [--seconds N] [--device NAME] [--json]`. Exits like
/// `check`: 0 pass, 1 warn, 2 fail, 3 error; a bad file or argument exits 64 and above.
pub async fn noise(loaded: &Loaded, args: &NoiseArgs) -> anyhow::Result<i32> {
    if let Some(s) = args.seconds {
        super::seconds_arg(s, noise::MIN_SECONDS, 3600.0, "err-seconds-why-noise")?;
    }
    let policy = loaded.policy.noise.clone();
    let result = if let Some(path) = &args.file {
        let path_shown = path.clone();
        let path = path.clone();
        let seconds = args.seconds;
        // Streamed: read and analysed block by block, never held whole.
        let judged = tokio::task::spawn_blocking(move || judge_file(&path, seconds, &policy))
            .await?
            .map_err(anyhow::Error::new)?;
        let held = judged.seconds;
        if held < noise::MIN_SECONDS {
            return Err(ExitError::said(
                exit::DATA,
                proto::Msg::new("err-noise-file-short")
                    .text("path", path_shown.display().to_string())
                    .arg("held", proto::MsgArg::Num(held, 2))
                    .arg("min", super::seconds_num(noise::MIN_SECONDS)),
            ));
        }
        judged.result.with("source", "file")
    } else {
        let device = args
            .device
            .clone()
            .or_else(|| Some(loaded.config.audio.input_device.trim().to_string()))
            .filter(|d| !d.trim().is_empty());
        let seconds = args.seconds.unwrap_or(policy.seconds);
        from_device(device, seconds, loaded.config.audio.clone(), policy)
            .await
            .with("source", "device")
    };
    super::print_one("noise", &result, &loaded.policy, args.json)
}
