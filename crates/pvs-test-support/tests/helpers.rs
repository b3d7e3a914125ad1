//! The helpers do what the tests rely on: a free port can be bound, a guarded process does
//! not outlive its guard, a signal stops a process within the deadline, waits return the
//! first value and fail naming what they waited for.

use std::process::Command;
use std::time::{Duration, Instant};

use pvs_test_support::{
    Process, Signal, clean_command, free_address, serve, wait_for, wait_ok, wait_until,
};

fn running(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn a_free_address_can_be_bound() {
    std::net::TcpListener::bind(free_address()).unwrap();
}

#[test]
fn a_clean_command_sees_only_its_variables() {
    let out = clean_command("env", [] as [&str; 0], [("ONLY", "this")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ONLY=this\n");
}

#[test]
fn a_dropped_process_is_killed() {
    let process = Process::spawn(Command::new("sleep").arg("30"));
    let pid = process.id();
    assert!(running(pid));
    drop(process);
    assert!(!running(pid), "sleep {pid} outlived its guard");
}

#[test]
fn a_process_stopped_on_drop_gets_its_signal_first() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("terminated");
    let script = format!(
        "trap 'touch {}; exit 0' TERM; while true; do sleep 0.05; done",
        marker.display()
    );
    let process = Process::spawn(Command::new("sh").args(["-c", &script]))
        .stop_on_drop(Signal::Term, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    drop(process);
    assert!(marker.exists(), "the trap did not run");
}

#[tokio::test]
async fn stop_sends_the_signal_and_returns_the_exit() {
    let mut process = Process::spawn(
        Command::new("sh").args(["-c", "trap 'exit 3' INT; while true; do sleep 0.05; done"]),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = process.stop(Signal::Int, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(3));
}

#[tokio::test]
async fn waits_return_as_soon_as_the_condition_holds() {
    let started = Instant::now();
    let mut polls = 0;
    let value = wait_for(Duration::from_secs(5), "the third poll", async || {
        polls += 1;
        if polls == 3 {
            Ok(polls)
        } else {
            Err(format!("{polls} polls"))
        }
    })
    .await;
    assert_eq!(value, 3);
    let mut flag = 0;
    wait_until(Duration::from_secs(5), "the flag", async || {
        flag += 1;
        flag > 1
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
#[should_panic(expected = "waiting for nothing; last: still nothing")]
async fn a_wait_past_its_deadline_names_what_it_waited_for() {
    wait_for(Duration::from_millis(250), "nothing", async || {
        Err::<(), _>("still nothing")
    })
    .await;
}

#[tokio::test]
async fn a_served_router_answers() {
    let router = axum::Router::new().route("/ready", axum::routing::get(async || "ok"));
    let base = serve(router).await;
    wait_ok(&format!("{base}/ready"), Duration::from_secs(5)).await;
}
