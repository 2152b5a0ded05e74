//! The API key never appears in errors, `Debug` output, sink messages or batch state files,
//! whatever goes wrong.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;
use openai_mock::{BatchScenario, Fault, MockServer, Rule, When};
use taxonomist_engine::Work;
use taxonomist_llm::batch;
use taxonomist_llm::{
    ApiError, BudgetLimit, ChatApi, ChatRequest, CreateBatch, HttpApi, LlmConfig, LlmEngine,
    LlmError, Message, Mode,
};

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} leaks the key: {text}");
    assert!(
        !text.contains("SECRET"),
        "{what} leaks part of the key: {text}"
    );
}

fn check_err(what: &str, e: &ApiError) {
    assert_clean(what, &e.to_string());
    assert_clean(what, &format!("{e:?}"));
    let wrapped = LlmError::from(e.clone());
    assert_clean(what, &wrapped.to_string());
    assert_clean(what, &format!("{wrapped:?}"));
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "gpt-4.1-mini".into(),
        messages: vec![Message::new("user", "hello")],
        temperature: Some(0.0),
        max_tokens: Some(10),
        max_completion_tokens: None,
        response_format: None,
    }
}

#[test]
fn every_client_error_path_is_clean() {
    // A server that expects another key and echoes the one it was given.
    let other = MockServer::start("sk-server-expects-another").expect("binds");
    let cfg = config(&other, Mode::MultiTerm);
    let api = HttpApi::with_key(&cfg, Some(KEY.into())).expect("client");
    assert_clean("HttpApi Debug", &format!("{api:?}"));
    let mut seen = Vec::new();
    let e = api.chat(&request()).expect_err("401");
    assert!(matches!(e, ApiError::Auth { status: 401, .. }), "{e:?}");
    assert!(
        e.to_string().contains("[redacted]"),
        "the echoed key is replaced: {e}"
    );
    seen.push(e);
    for call in [
        api.upload_file("x.jsonl", "batch", b"{}\n").map(|_| ()),
        api.get_batch("batch_1").map(|_| ()),
        api.list_batches(10).map(|_| ()),
        api.file_content("file-1").map(|_| ()),
        api.create_batch(&CreateBatch {
            input_file_id: "f".into(),
            endpoint: "/v1/chat/completions".into(),
            completion_window: "24h".into(),
            metadata: Default::default(),
        })
        .map(|_| ()),
    ] {
        seen.push(call.expect_err("401"));
    }

    // The right key, and every fault.
    let mock = mock();
    let cfg = config(&mock, Mode::MultiTerm);
    let api = HttpApi::with_key(&cfg, Some(KEY.into())).expect("client");
    for fault in [
        Fault::RateLimit {
            retry_after: Some(1),
        },
        Fault::ServerError(500),
        Fault::MalformedBody,
        Fault::BadRequest,
        Fault::Unauthorized,
    ] {
        mock.fail_next(fault.clone());
        seen.push(api.chat(&request()).expect_err("fault"));
    }
    seen.push(api.get_batch("batch_missing").expect_err("404"));
    let mut short = cfg.clone();
    short.timeout_secs = 1;
    let slow = HttpApi::with_key(&short, Some(KEY.into())).expect("client");
    mock.fail_next(Fault::Hang(Duration::from_secs(2)));
    let e = slow.chat(&request()).expect_err("timeout");
    assert!(matches!(e, ApiError::Timeout(_)), "{e:?}");
    seen.push(e);

    // Nothing listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut gone = cfg.clone();
    gone.base_url = format!("http://127.0.0.1:{port}/v1");
    let e = HttpApi::with_key(&gone, Some(KEY.into()))
        .expect("client")
        .chat(&request())
        .expect_err("refused");
    assert!(matches!(e, ApiError::Connection { .. }), "{e:?}");
    seen.push(e);

    seen.push(ApiError::BudgetExhausted {
        limit: BudgetLimit::Cost(1.0).to_string(),
    });
    seen.push(ApiError::SchemaViolation {
        message: "t1: depth = 42 is outside 0–10".into(),
    });
    for (i, e) in seen.iter().enumerate() {
        check_err(&format!("error {i}"), e);
    }
    assert!(seen.len() >= 15);
}

#[test]
fn engine_runs_and_sinks_are_clean() {
    let site = site();
    // Wrong key: the run stops with an error naming the variable, never the key.
    let other = MockServer::start("sk-server-expects-another").expect("binds");
    let cfg = config(&other, Mode::MultiTerm);
    let mut eng = engine(&cfg);
    assert_clean("engine Debug", &format!("{eng:?}"));
    let mut rec = Recorder::default();
    let err = eng
        .run(&site, &Work::all(&site), &mut rec)
        .expect_err("401");
    assert_clean("run error", &err.to_string());
    assert_clean("run error Debug", &format!("{err:?}"));
    assert_clean("sink", &rec.all_text());
    assert_clean("report", &format!("{:?}", eng.last_report()));

    // Every reply fault, through the sink's failure messages.
    let mock = mock();
    let cfg = config(&mock, Mode::MultiTerm);
    for fault in [
        Fault::DimensionOutOfRange,
        Fault::MissingFields,
        Fault::WrongKey,
        Fault::MissingKey,
        Fault::Truncated,
        Fault::MalformedContent,
        Fault::Refusal,
        Fault::BadRequest,
        Fault::ServerError(503),
    ] {
        mock.add_rule(Rule {
            when: When::PromptContains("Sprints in Scrum".into()),
            fault,
            times: None,
        });
        let mut eng = engine(&cfg);
        let mut rec = Recorder::default();
        eng.run(&site, &Work::all(&site), &mut rec).expect("runs");
        assert!(!rec.failures().is_empty());
        assert_clean("sink", &rec.all_text());
        mock.clear_faults();
    }
}

#[test]
fn the_key_from_the_environment_is_used_and_never_shown() {
    // Cargo sets CARGO_MANIFEST_DIR for test runs: use it as "the key" (setting a variable
    // would need unsafe code).
    let key = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let mock = MockServer::start(&key).expect("binds");
    let cfg = LlmConfig {
        api_key_env: "CARGO_MANIFEST_DIR".into(),
        ..config(&mock, Mode::MultiTerm)
    };
    let mut eng = LlmEngine::from_env(cfg.clone()).expect("engine");
    let site = site();
    let mut rec = Recorder::default();
    let r = eng
        .run(&site, &Work::all(&site), &mut rec)
        .expect("authenticated");
    assert_eq!(r.summary.scored, 18);
    for text in [
        format!("{eng:?}"),
        format!("{cfg:?}"),
        format!("{:?}", HttpApi::from_config(&cfg).expect("client")),
    ] {
        assert!(!text.contains(&key), "{text}");
    }
}

#[test]
fn batch_state_files_are_clean() {
    let site = site();
    let mock = mock();
    let cfg = config(&mock, Mode::PerTerm);
    let api = api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    mock.next_batch(BatchScenario::ExpireHalf);
    mock.add_rule(Rule {
        when: When::PromptContains("The test pyramid".into()),
        fault: Fault::ServerError(500),
        times: None,
    });
    batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect("submits");
    // Look at the files while a batch is in flight (manifest and state), then after.
    let mut texts = Vec::new();
    let snapshot = |texts: &mut Vec<String>| {
        for e in std::fs::read_dir(dir.path()).expect("ls") {
            let p = e.expect("entry").path();
            texts.push(std::fs::read_to_string(&p).unwrap_or_default());
        }
    };
    snapshot(&mut texts);
    for _ in 0..4 {
        batch::status(dir.path(), api.as_ref()).expect("status");
    }
    let mut rec = Recorder::default();
    batch::collect(&site, dir.path(), api.as_ref(), &mut rec).expect("collects");
    snapshot(&mut texts);
    assert!(texts.len() >= 3);
    for t in &texts {
        assert_clean("state file", t);
    }
    assert_clean("sink", &rec.all_text());

    // A wrong key during submission: the error and the state left behind are clean too.
    let other = MockServer::start("sk-server-expects-another").expect("binds");
    let cfg = config(&other, Mode::PerTerm);
    let api = common::api(&cfg);
    let dir = tempfile::tempdir().expect("tempdir");
    let e =
        batch::submit(&site, &Work::all(&site), &cfg, api.as_ref(), dir.path()).expect_err("401");
    assert_clean("submit error", &format!("{e} {e:?}"));
    for entry in std::fs::read_dir(dir.path()).expect("ls") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
        assert_clean("state file", &text);
    }
}
