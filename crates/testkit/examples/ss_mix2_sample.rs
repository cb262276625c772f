//! Writes the sample SS-MIX2 storage of `renkei_testkit::ss_mix2::sample` to DIR for
//! PATIENT_ID (default `0013002`, a demo-region patient of `acute-1`), collected now:
//!
//! ```text
//! cargo run -p renkei-testkit --example ss_mix2_sample -- DIR [PATIENT_ID]
//! ```

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: ss_mix2_sample DIR [PATIENT_ID]");
        return std::process::ExitCode::from(2);
    };
    let patient = args.next().unwrap_or_else(|| "0013002".to_owned());
    let files = renkei_testkit::ss_mix2::sample(&patient, chrono::Utc::now());
    match renkei_testkit::ss_mix2::write_storage(std::path::Path::new(&dir), &files) {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
