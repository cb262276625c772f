//! Backup generations: `backup --dir D --keep N` rotates, writes a manifest with the
//! checksum, row counts and the audit checkpoint it covers; `restore --check` restores
//! each generation into a scratch directory and checks it against its manifest.

use renkei_testkit::process::server::free_port;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Api, patient, region};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_dir_keeps_n_generations_with_manifests_and_restore_check_verifies_them() {
    let Some(region) = region("opbackup").await else {
        return;
    };
    let dir = region.work("generations");
    let d = dir.to_str().expect("utf-8");
    if region.db.is_postgres() {
        let out = region
            .renkei
            .run(&["backup", "--dir", d, "--keep", "2"], None)
            .await
            .expect("run");
        assert!(!out.success);
        assert!(out.stderr.contains("pg_basebackup"), "{}", out.stderr);
        region.db.cleanup().await;
        return;
    }
    let mut server = region
        .renkei
        .serve(
            free_port().expect("port"),
            &region.work("log").join("serve.log"),
        )
        .await
        .expect("serve");
    let api = Api::new(&server.base, &region.token);
    let (_, plan, stage) = api
        .patient_with_plan(
            &region.org,
            &patient("控", "花子", "ヒカエ", "ハナコ", "1951-03-04"),
        )
        .await;
    let mut manifests = Vec::new();
    for generation in 0..3 {
        api.append(&plan, &stage, &format!("g{generation}")).await;
        let out = region
            .renkei
            .run_ok(&["backup", "--dir", d, "--keep", "2"], None)
            .await
            .expect("backup --dir while the server writes");
        assert!(out.contains("audit checkpoint"), "{out}");
        let path = out
            .lines()
            .find_map(|l| l.strip_prefix("manifest "))
            .expect("the manifest's path")
            .to_owned();
        manifests.push(path);
    }
    server.stop().await;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let dbs: Vec<&String> = names.iter().filter(|n| n.ends_with(".db")).collect();
    assert_eq!(dbs.len(), 2, "two generations kept: {names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|n| n.ends_with(".manifest.json"))
            .count(),
        2,
        "{names:?}"
    );
    assert!(
        !std::path::Path::new(&manifests[0]).exists(),
        "the oldest generation was rotated out"
    );
    let newest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifests[2]).expect("manifest"))
            .expect("manifest JSON");
    let file = dir.join(newest["file"].as_str().expect("file"));
    let bytes = std::fs::read(&file).expect("backup file");
    assert_eq!(newest["bytes"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(
        newest["sha256"].as_str(),
        Some(hex(&Sha256::digest(&bytes)).as_str())
    );
    assert!(newest["created_at"].as_str().is_some());
    assert!(
        newest["row_counts"]["entries"]
            .as_i64()
            .is_some_and(|n| n >= 3),
        "{newest}"
    );
    let checkpoints = newest["audit_checkpoints"].as_array().expect("checkpoints");
    assert!(!checkpoints.is_empty(), "{newest}");
    for k in checkpoints {
        assert!(k["tree_size"].as_i64().is_some_and(|n| n > 0), "{k}");
        assert_eq!(k["root_hash"].as_str().map(str::len), Some(64), "{k}");
    }

    let ok = region
        .renkei
        .run(&["restore", "--check", d], None)
        .await
        .expect("restore --check");
    assert!(ok.success, "{}\n{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout.contains("2 generation(s) checked, 0 failed"),
        "{}",
        ok.stdout
    );

    // A changed byte, or a manifest that promises other counts, fails the check.
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x55;
    std::fs::write(&file, &damaged).expect("damage");
    let bad = region
        .renkei
        .run(&["restore", "--check", file.to_str().expect("utf-8")], None)
        .await
        .expect("restore --check");
    assert!(!bad.success, "{}", bad.stdout);
    assert!(bad.stdout.contains("checksum differs"), "{}", bad.stdout);
    std::fs::write(&file, &bytes).expect("repair");
    let mut lying = newest.clone();
    lying["row_counts"]["entries"] = Value::from(999_999);
    std::fs::write(&manifests[2], serde_json::to_string(&lying).expect("json")).expect("write");
    let bad = region
        .renkei
        .run(&["restore", "--check", &manifests[2]], None)
        .await
        .expect("restore --check");
    assert!(!bad.success, "{}", bad.stdout);
    assert!(bad.stdout.contains("entries:"), "{}", bad.stdout);
    // The database itself was never touched: it still verifies.
    region
        .renkei
        .run_ok(&["verify"], None)
        .await
        .expect("verify");
    region.db.cleanup().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
