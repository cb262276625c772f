//! Up-all → down-all → up-all round trip on SQLite, and on PostgreSQL when
//! `RENKEI_TEST_DATABASE_URL` is set (in a fresh, throw-away schema).

use renkei_migration::Migrator;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr,
};

/// Tables created by the migrations, in creation order.
const TABLES: &[&str] = &[
    "organizations",
    "practitioners",
    "api_tokens",
    "patients",
    "patient_identifiers",
    "pathway_versions",
    "care_plans",
    "entries",
    "idempotency_keys",
];

async fn assert_tables(db: &DatabaseConnection, present: bool) -> Result<(), DbErr> {
    let manager = sea_orm_migration::SchemaManager::new(db);
    for table in TABLES {
        assert_eq!(
            manager.has_table(*table).await?,
            present,
            "table {table} presence should be {present}"
        );
    }
    Ok(())
}

async fn roundtrip(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await?;
    assert!(Migrator::get_pending_migrations(db).await?.is_empty());
    assert_tables(db, true).await?;
    assert!(
        sea_orm_migration::SchemaManager::new(db)
            .has_column("entries", "values_json")
            .await?,
        "entries.values_json should exist"
    );

    Migrator::down(db, None).await?;
    assert!(Migrator::get_applied_migrations(db).await?.is_empty());
    assert_eq!(
        Migrator::get_pending_migrations(db).await?.len(),
        Migrator::migrations().len()
    );
    assert_tables(db, false).await?;

    Migrator::up(db, None).await?;
    assert!(Migrator::get_pending_migrations(db).await?.is_empty());
    assert_tables(db, true).await?;
    Ok(())
}

#[tokio::test]
async fn sqlite_up_down_up() -> Result<(), DbErr> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("renkei.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = Database::connect(url).await?;
    roundtrip(&db).await?;
    db.close().await?;
    Ok(())
}

#[tokio::test]
async fn postgres_up_down_up() -> Result<(), DbErr> {
    let Ok(url) = std::env::var("RENKEI_TEST_DATABASE_URL") else {
        eprintln!("RENKEI_TEST_DATABASE_URL not set; skipping PostgreSQL migration test");
        return Ok(());
    };
    if url.trim().is_empty() {
        return Ok(());
    }

    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(url.as_str()).await?;
    admin
        .execute_unprepared(&format!(r#"CREATE SCHEMA "{schema}""#))
        .await?;

    let mut options = ConnectOptions::new(url.as_str());
    options.set_schema_search_path(schema.as_str());
    let result = async {
        let db = Database::connect(options).await?;
        let outcome = roundtrip(&db).await;
        db.close().await?;
        outcome
    }
    .await;

    admin
        .execute_unprepared(&format!(r#"DROP SCHEMA "{schema}" CASCADE"#))
        .await?;
    admin.close().await?;
    result
}
