//! Independent FHIR validation: runs the two validators in `tests/fhir-validators/` — the R4B
//! models of the PyPI package `fhir.resources` (`validate.py`) and `@medplum/core`'s
//! `validateResource` from npm (`validate.mjs`) — as processes, and returns their errors.
//!
//! Where they are found:
//! - Python: `RENKEI_FHIR_PY`, else `RENKEI_PYTHON`, else `python3`; it must import
//!   `fhir.resources` (`pip install -r tests/fhir-validators/requirements.txt`).
//! - Node: `RENKEI_FHIR_NODE` (default `node`) with the packages of `RENKEI_FHIR_NODE_DIR`, a
//!   directory where `npm ci` ran with `tests/fhir-validators/package-lock.json` (default
//!   `tests/fhir-validators` itself).
//!
//! A validator that is missing fails the calling test under `CI=true` (`.ci/run` installs both)
//! and is skipped with a loud message on stderr elsewhere, as the OpenAPI tools are.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::app::workspace_root;

/// One of the two validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// PyPI `fhir.resources` (R4B models).
    FhirResources,
    /// npm `@medplum/core` `validateResource`.
    Medplum,
}

impl Validator {
    pub const ALL: [Validator; 2] = [Validator::FhirResources, Validator::Medplum];

    /// The prefix of each of its error lines.
    pub fn name(self) -> &'static str {
        match self {
            Validator::FhirResources => "fhir.resources",
            Validator::Medplum => "@medplum/core",
        }
    }

    fn how_to_install(self) -> &'static str {
        match self {
            Validator::FhirResources => {
                "`pip install -r tests/fhir-validators/requirements.txt` into the Python that \
                 RENKEI_FHIR_PY (or RENKEI_PYTHON) names"
            }
            Validator::Medplum => {
                "`npm ci` in tests/fhir-validators (or in the directory RENKEI_FHIR_NODE_DIR \
                 names, with that package.json and package-lock.json)"
            }
        }
    }

    fn script(self) -> PathBuf {
        let dir = workspace_root().join("tests/fhir-validators");
        match self {
            Validator::FhirResources => dir.join("validate.py"),
            Validator::Medplum => dir.join("validate.mjs"),
        }
    }

    fn command(self) -> Command {
        match self {
            Validator::FhirResources => {
                let python = std::env::var("RENKEI_FHIR_PY")
                    .or_else(|_| std::env::var("RENKEI_PYTHON"))
                    .unwrap_or_else(|_| "python3".into());
                Command::new(python)
            }
            Validator::Medplum => {
                let node = std::env::var("RENKEI_FHIR_NODE").unwrap_or_else(|_| "node".into());
                let mut command = Command::new(node);
                command.env("RENKEI_FHIR_NODE_DIR", node_dir());
                command
            }
        }
    }

    /// Whether the validator runs on this machine (probed once per process).
    pub fn available(self) -> bool {
        static PROBES: OnceLock<[bool; 2]> = OnceLock::new();
        let probes = PROBES.get_or_init(|| Validator::ALL.map(Validator::probe));
        probes[self as usize]
    }

    fn probe(self) -> bool {
        let mut command = self.command();
        match self {
            Validator::FhirResources => {
                command.args(["-c", "import fhir.resources.R4B"]);
            }
            Validator::Medplum => {
                command.args([
                    "-e",
                    "require(require('node:module').createRequire(process.env.RENKEI_FHIR_NODE_DIR + '/package.json').resolve('@medplum/core'))",
                ]);
            }
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs the validator on `resources` (one JSON document per line) and returns its error
    /// lines, each prefixed with the validator's name. Panics when the script cannot run.
    fn run(self, resources: &[Value]) -> Vec<String> {
        let mut input = Vec::new();
        for resource in resources {
            serde_json::to_writer(&mut input, resource).expect("serialise a resource");
            input.push(b'\n');
        }
        let mut child = self
            .command()
            .arg(self.script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot start the validator: {e}", self.name()));
        let mut stdin = child.stdin.take().expect("validator stdin");
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("{}: the validator did not finish: {e}", self.name()));
        writer
            .join()
            .expect("stdin writer")
            .unwrap_or_else(|e| panic!("{}: cannot write to the validator: {e}", self.name()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        match out.status.code() {
            Some(0) | Some(1) => stdout
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("{}: {l}", self.name()))
                .collect(),
            _ => panic!(
                "{}: the validator failed ({}):\n{stdout}\n{}",
                self.name(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

fn node_dir() -> PathBuf {
    std::env::var_os("RENKEI_FHIR_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests/fhir-validators"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A validator that is not installed: a failure under CI, a loud skip elsewhere.
fn missing(validator: Validator) {
    let message = format!(
        "the FHIR validator {} is not installed: {} (CI installs it in .ci/run)",
        validator.name(),
        validator.how_to_install()
    );
    if in_ci() {
        panic!("{message}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!! SKIPPED: {message} !!!!!!!!!!\n"
    );
}

/// Validates one resource or Bundle with both validators: their errors, each prefixed with the
/// validator's name; empty when both find it valid.
pub fn fhir_validate(resource: &Value) -> Vec<String> {
    fhir_validate_all(std::slice::from_ref(resource))
}

/// Validates many resources with one run of each validator; each error line names the index
/// of its resource in `resources` (`#3 Patient.name[0].family: …`).
pub fn fhir_validate_all(resources: &[Value]) -> Vec<String> {
    fhir_validate_with(&Validator::ALL, resources)
}

/// Validates with the given validators only (a missing one fails under CI, is skipped
/// elsewhere).
pub fn fhir_validate_with(validators: &[Validator], resources: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    if resources.is_empty() {
        return errors;
    }
    for &validator in validators {
        if validator.available() {
            errors.extend(validator.run(resources));
        } else {
            missing(validator);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A resource each validator must refuse: an unknown element, a malformed date, a number
    /// where a string belongs, and a missing required element.
    fn invalid() -> Vec<Value> {
        vec![
            json!({"resourceType": "Patient", "birthDate": "1950-13-45", "name": [{"family": 3}]}),
            json!({"resourceType": "Observation", "code": {"text": "HbA1c"}}),
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [
                {"fullUrl": "urn:uuid:7d3c4a7e-0000-4000-8000-000000000001",
                 "resource": {"resourceType": "Patient", "nickname": "x"}}
            ]}),
        ]
    }

    #[test]
    fn each_validator_refuses_invalid_resources_and_names_the_element() {
        for validator in Validator::ALL {
            if !validator.available() {
                missing(validator);
                continue;
            }
            for (index, resource) in invalid().iter().enumerate() {
                let errors = fhir_validate_with(&[validator], std::slice::from_ref(resource));
                assert!(
                    !errors.is_empty(),
                    "{} accepted invalid resource #{index}: {resource}",
                    validator.name()
                );
                assert!(
                    errors.iter().all(|e| e.starts_with(validator.name())),
                    "{errors:?}"
                );
            }
            let observation = fhir_validate_with(&[validator], &invalid()[1..2]);
            assert!(
                observation.iter().any(|e| e.contains("Observation.status")),
                "{} did not name the missing Observation.status: {observation:?}",
                validator.name()
            );
            let bundle = fhir_validate_with(&[validator], &invalid()[2..3]);
            assert!(
                bundle.iter().any(|e| e.contains("entry[0].resource")),
                "{} did not look inside the Bundle: {bundle:?}",
                validator.name()
            );
        }
    }

    #[test]
    fn both_validators_accept_a_valid_resource_and_bundle() {
        let patient = json!({
            "resourceType": "Patient",
            "id": "p-1",
            "gender": "female",
            "birthDate": "1948-04-02",
            "name": [{"use": "official", "family": "山田", "given": ["花子"]}]
        });
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "entry": [{"fullUrl": "https://renkei.example.jp/fhir/r4/Patient/p-1",
                       "resource": patient, "search": {"mode": "match"}}]
        });
        assert_eq!(fhir_validate_all(&[patient, bundle]), Vec::<String>::new());
    }

    #[test]
    fn errors_of_a_batch_name_the_index_of_their_resource() {
        let valid = json!({"resourceType": "Patient", "gender": "male"});
        let mut batch = vec![valid.clone(), valid];
        batch.extend(invalid().into_iter().take(1));
        for validator in Validator::ALL {
            if !validator.available() {
                missing(validator);
                continue;
            }
            let errors = fhir_validate_with(&[validator], &batch);
            assert!(!errors.is_empty(), "{} found nothing", validator.name());
            assert!(
                errors
                    .iter()
                    .all(|e| e.starts_with(&format!("{}: #2 ", validator.name()))),
                "{errors:?}"
            );
        }
    }
}
