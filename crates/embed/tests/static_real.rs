//! The static model derived from the real MiniLM. Building it embeds all
//! 30,522 vocabulary tokens (about 35 s in release on 2 cores, far longer in
//! a debug build), so this test is opt-in: `cargo test --release -p
//! taxonomist-embed --test static_real -- --ignored`.

mod common;

use taxonomist_embed::fetch::MODEL_SHA256;
use taxonomist_embed::{Embedder, StaticModel, StaticOptions, cosine};

#[test]
#[ignore = "builds the static model from the real MiniLM (~35 s in release); run with --ignored"]
fn static_model_from_real_minilm() {
    let Some(dir) = common::real_model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("static.bin");
    let (model, report) = StaticModel::load_or_build(
        &dir,
        MODEL_SHA256,
        Some(&path),
        StaticOptions::default(),
        &mut |_, _| {},
    )
    .expect("build");
    assert!(report.built && report.warnings.is_empty());
    eprintln!("static build: {:.1} s", report.build_seconds);
    assert_eq!(model.dim(), 256);
    assert_eq!(model.vocab_size(), 30522);
    assert!(model.id().starts_with("all-MiniLM-L6-v2-static256@"));

    let v = model
        .embed(&[
            "How do I bake sourdough bread at home?",
            "A recipe for homemade sourdough loaves",
            "Kubernetes cluster autoscaling explained",
        ])
        .expect("embed");
    let same = cosine(&v[0], &v[1]);
    let other = cosine(&v[0], &v[2]);
    assert!(same > other + 0.2, "same {same}, other {other}");

    let (again, report) = StaticModel::load_or_build(
        &dir,
        MODEL_SHA256,
        Some(&path),
        StaticOptions::default(),
        &mut |_, _| {},
    )
    .expect("load");
    assert!(!report.built);
    assert_eq!(again.id(), model.id());
    assert_eq!(
        again.embed(&["sourdough"]).expect("embed"),
        model.embed(&["sourdough"]).expect("embed")
    );
}
