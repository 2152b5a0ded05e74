//! The mock Batch API: input files are answered line by line when the batch is created, and
//! the batch walks through its statuses as it is polled.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::{Shared, http_fault, prompt_text, unix_now};

/// How a batch behaves over successive `GET /v1/batches/{id}` polls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchScenario {
    /// `validating` → `in_progress` → `finalizing` → `completed` (one step per poll).
    #[default]
    Complete,
    /// `completed` at the first poll.
    Immediate,
    /// `in_progress`, then `expired`: the output file holds the first half of the lines,
    /// the error file the next quarter, the rest is missing.
    ExpireHalf,
    /// `failed` at the first poll, with batch-level errors and no output.
    Failed,
    /// `cancelling`, then `cancelled`: the output file holds the first third of the lines.
    Cancelled,
}

/// What one input line turned into.
#[derive(Clone, Debug)]
enum LineResult {
    Ok(Value),
    Err(Value),
}

#[derive(Clone, Debug)]
pub(crate) struct MockBatch {
    id: String,
    input_file_id: String,
    endpoint: String,
    completion_window: String,
    metadata: Value,
    created_at: u64,
    scenario: BatchScenario,
    polls: u32,
    status: &'static str,
    /// Per input line, in input order: its custom id and result.
    lines: Vec<(String, LineResult)>,
    /// Set when the input was invalid: the batch fails with these errors.
    invalid: Option<Vec<Value>>,
    output_file_id: Option<String>,
    error_file_id: Option<String>,
    terminal_at: Option<u64>,
    completed: usize,
    failed: usize,
}

impl MockBatch {
    fn to_json(&self) -> Value {
        let terminal_key = match self.status {
            "completed" => Some("completed_at"),
            "expired" => Some("expired_at"),
            "failed" => Some("failed_at"),
            "cancelled" => Some("cancelled_at"),
            _ => None,
        };
        let mut v = json!({
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": self.invalid.as_ref().map(|e| json!({"object": "list", "data": e})),
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": {"total": self.lines.len(), "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        });
        if let (Some(k), Some(at)) = (terminal_key, self.terminal_at) {
            v[k] = json!(at);
        }
        v
    }
}

fn error_line(id: String, custom_id: &str, status: u16, message: &str, code: &str) -> Value {
    json!({
        "id": id,
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": "req-mock", "body": {"error": {"message": message, "type": "server_error", "code": code}}},
        "error": null,
    })
}

/// Answers every line of an input file (under the state lock).
fn answer_lines(
    st: &mut crate::State,
    input: &[u8],
) -> Result<Vec<(String, LineResult)>, Vec<Value>> {
    let text = String::from_utf8_lossy(input);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |msg: &str| json!({"code": "invalid_request", "message": msg, "line": n + 1});
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            errors.push(bad("line is not valid JSON"));
            continue;
        };
        let Some(custom_id) = v.get("custom_id").and_then(Value::as_str) else {
            errors.push(bad("missing custom_id"));
            continue;
        };
        if !seen.insert(custom_id.to_string()) {
            errors.push(bad("duplicate custom_id"));
            continue;
        }
        if v.get("method").and_then(Value::as_str) != Some("POST") {
            errors.push(bad("method must be POST"));
            continue;
        }
        let url = v.get("url").and_then(Value::as_str).unwrap_or("");
        if url != "/v1/chat/completions" && url != "/chat/completions" {
            errors.push(bad("url must be /v1/chat/completions"));
            continue;
        }
        let Some(body) = v.get("body").filter(|b| b.get("model").is_some()) else {
            errors.push(bad("body with a model is required"));
            continue;
        };
        let prompt = prompt_text(body);
        let fault = st.rule_fault(&prompt);
        let req_id = st.next_id("batch_req");
        let result = match fault.as_ref().and_then(http_fault) {
            Some(resp) => LineResult::Err(error_line(
                req_id,
                custom_id,
                resp.status,
                "The server had an error processing this request.",
                "server_error",
            )),
            None => {
                let reply_fault = fault.as_ref().filter(|f| !f.is_http());
                let chat_id = st.next_id("chatcmpl");
                let body = crate::chat_body(body, reply_fault, chat_id);
                LineResult::Ok(json!({
                    "id": req_id,
                    "custom_id": custom_id,
                    "response": {"status_code": 200, "request_id": "req-mock", "body": body},
                    "error": null,
                }))
            }
        };
        out.push((custom_id.to_string(), result));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub(crate) fn create(req: &Request, shared: &Shared) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return Response::error(400, "invalid JSON body", "invalid_json");
    };
    let Some(input_file_id) = body.get("input_file_id").and_then(Value::as_str) else {
        return Response::error(400, "input_file_id is required", "missing_input_file_id");
    };
    let endpoint = body
        .get("endpoint")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if endpoint != "/v1/chat/completions" && endpoint != "/chat/completions" {
        return Response::error(
            400,
            "endpoint must be /v1/chat/completions",
            "invalid_endpoint",
        );
    }
    let window = body
        .get("completion_window")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if window != "24h" {
        return Response::error(
            400,
            "completion_window must be 24h",
            "invalid_completion_window",
        );
    }
    let mut st = shared.lock();
    let Some((_, input)) = st.files.get(input_file_id).cloned() else {
        return Response::error(
            404,
            &format!("No such File object: {input_file_id}"),
            "not_found",
        );
    };
    let scenario = st.scenarios.pop_front().unwrap_or_default();
    let (lines, invalid) = match answer_lines(&mut st, &input) {
        Ok(lines) => (lines, None),
        Err(errors) => (Vec::new(), Some(errors)),
    };
    let id = st.next_id("batch");
    let batch = MockBatch {
        id: id.clone(),
        input_file_id: input_file_id.to_string(),
        endpoint,
        completion_window: window,
        metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
        created_at: unix_now(),
        scenario,
        polls: 0,
        status: "validating",
        lines,
        invalid,
        output_file_id: None,
        error_file_id: None,
        terminal_at: None,
        completed: 0,
        failed: 0,
    };
    let v = batch.to_json();
    st.batches.insert(id, batch);
    Response::json(200, &v)
}

pub(crate) fn list(req: &Request, shared: &Shared) -> Response {
    let limit: usize = req
        .query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let st = shared.lock();
    let mut all: Vec<&MockBatch> = st.batches.values().collect();
    all.sort_by(|a, b| b.id.cmp(&a.id));
    let data: Vec<Value> = all.iter().take(limit).map(|b| b.to_json()).collect();
    Response::json(
        200,
        &json!({"object": "list", "data": data, "has_more": all.len() > limit}),
    )
}

pub(crate) fn get(id: &str, shared: &Shared) -> Response {
    let mut st = shared.lock();
    let Some(mut batch) = st.batches.get(id).cloned() else {
        return Response::error(404, &format!("No batch found with id '{id}'."), "not_found");
    };
    if batch.terminal_at.is_none() {
        batch.polls += 1;
        advance(&mut batch, &mut st);
    }
    let v = batch.to_json();
    st.batches.insert(id.to_string(), batch);
    Response::json(200, &v)
}

fn advance(b: &mut MockBatch, st: &mut crate::State) {
    use BatchScenario::*;
    if b.invalid.is_some() {
        b.status = "failed";
        b.terminal_at = Some(unix_now());
        return;
    }
    let p = b.polls;
    let n = b.lines.len();
    // Which input lines land in the output (or error) file, and which are simply missing.
    let (status, answered) = match b.scenario {
        Complete => match p {
            1 => ("in_progress", None),
            2 => ("finalizing", None),
            _ => ("completed", Some((n, n))),
        },
        Immediate => ("completed", Some((n, n))),
        ExpireHalf => match p {
            1 => ("in_progress", None),
            _ => ("expired", Some((n / 2, n / 2 + n / 4))),
        },
        Failed => ("failed", Some((0, 0))),
        Cancelled => match p {
            1 => ("cancelling", None),
            _ => ("cancelled", Some((n / 3, n / 3))),
        },
    };
    b.status = status;
    let Some((ok_end, err_end)) = answered else {
        return;
    };
    b.terminal_at = Some(unix_now());
    if b.scenario == Failed {
        b.invalid = Some(vec![
            json!({"code": "server_error", "message": "The batch failed.", "line": null}),
        ]);
        return;
    }
    let mut output = Vec::new();
    let mut errors = Vec::new();
    for (i, (custom_id, r)) in b.lines.iter().enumerate() {
        if i < ok_end {
            match r {
                LineResult::Ok(v) => output.push(v.to_string()),
                LineResult::Err(v) => errors.push(v.to_string()),
            }
        } else if i < err_end {
            let id = st.next_id("batch_req");
            errors.push(
                error_line(
                    id,
                    custom_id,
                    500,
                    "The request could not be completed before the batch expired.",
                    "batch_expired",
                )
                .to_string(),
            );
        }
    }
    // Real output files are not in input order.
    output.reverse();
    errors.reverse();
    b.completed = output.len();
    b.failed = errors.len();
    if !output.is_empty() {
        let fid = st.next_id("file");
        st.files.insert(
            fid.clone(),
            (
                format!("{}_output.jsonl", b.id),
                (output.join("\n") + "\n").into_bytes(),
            ),
        );
        b.output_file_id = Some(fid);
    }
    if !errors.is_empty() {
        let fid = st.next_id("file");
        st.files.insert(
            fid.clone(),
            (
                format!("{}_error.jsonl", b.id),
                (errors.join("\n") + "\n").into_bytes(),
            ),
        );
        b.error_file_id = Some(fid);
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WD[(days.rem_euclid(7)) as usize],
        d,
        MO[(m - 1) as usize],
        y,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn http_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
