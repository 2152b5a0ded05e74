//! MiniLM in Rust agrees with the NumPy reference (tests/reference/minilm_ref.py)
//! to 1e-3 per component, tokenisation included.

mod common;

use serde::Deserialize;
use taxonomist_embed::fetch::MODEL_SHA256;
use taxonomist_embed::{Embedder, MiniLm, cosine};

#[derive(Deserialize)]
struct Fixture {
    model_sha256: String,
    max_seq_length: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    input_ids: Vec<u32>,
    vector: Vec<f32>,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/expected.json");
    serde_json::from_str(text).expect("fixture parses")
}

#[test]
fn fixture_is_for_the_pinned_model() {
    let f = fixture();
    assert_eq!(f.model_sha256, MODEL_SHA256);
    assert_eq!(f.max_seq_length, 256);
    assert!(f.cases.len() >= 10);
    assert!(f.cases.iter().any(|c| c.text.is_empty()));
    assert!(
        f.cases.iter().any(|c| c.input_ids.len() == 256),
        "a truncated case"
    );
}

#[test]
fn matches_numpy_reference() {
    let Some(dir) = common::real_model_dir() else {
        return;
    };
    let model = MiniLm::load(&dir).expect("load model");
    assert!(
        model.id().starts_with("all-MiniLM-L6-v2@"),
        "{}",
        model.id()
    );
    assert_eq!(model.dim(), 384);
    let f = fixture();
    for case in &f.cases {
        assert_eq!(
            model.model_input_ids(&case.text).expect("ids"),
            case.input_ids,
            "tokenisation differs for {:?}",
            case.text
        );
    }
    let texts: Vec<&str> = f.cases.iter().map(|c| c.text.as_str()).collect();
    let got = model.embed(&texts).expect("embed");
    let mut worst = 0f32;
    for (case, v) in f.cases.iter().zip(&got) {
        assert_eq!(v.len(), case.vector.len());
        let diff = v
            .iter()
            .zip(&case.vector)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        worst = worst.max(diff);
        assert!(diff <= 1e-3, "{:?}: max abs diff {diff} > 1e-3", case.text);
        assert!(cosine(v, &case.vector) > 0.9999);
    }
    eprintln!(
        "max abs diff vs NumPy over {} texts: {worst:e}",
        f.cases.len()
    );
}

#[test]
fn similar_sentences_are_closer() {
    let Some(dir) = common::real_model_dir() else {
        return;
    };
    let model = MiniLm::load(&dir).expect("load model");
    let v = model
        .embed(&[
            "How do I bake sourdough bread at home?",
            "A recipe for homemade sourdough loaves",
            "Kubernetes cluster autoscaling explained",
        ])
        .expect("embed");
    let same = cosine(&v[0], &v[1]);
    let other = cosine(&v[0], &v[2]);
    assert!(same > 0.5 && other < 0.2, "same {same}, other {other}");
}

#[test]
fn ids_are_known_without_loading_the_weights() {
    let Some(dir) = common::real_model_dir() else {
        return;
    };
    let model = MiniLm::load(&dir).expect("load");
    assert_eq!(MiniLm::id_for(&dir).expect("id"), model.id());
    let static_path = taxonomist_embed::StaticModel::default_path(&dir);
    if static_path.exists() {
        let (sm, _) = taxonomist_embed::StaticModel::load_or_build(
            &dir,
            model.model_sha256(),
            None,
            Default::default(),
            &mut |_, _| {},
        )
        .expect("static");
        assert_eq!(
            taxonomist_embed::StaticModel::id_for(&dir, Default::default()).expect("id"),
            sm.id()
        );
    } else {
        eprintln!(
            "skipping the static half: {} not built (run `taxonomist model fetch`)",
            static_path.display()
        );
    }
}
