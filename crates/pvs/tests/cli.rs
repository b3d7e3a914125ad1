//! The `pvs` binary as users run it: help, service links, and start-up configuration errors.

use std::path::Path;
use std::process::Output;

use pvs_test_support::clean_command;

const PVS: &str = env!("CARGO_BIN_EXE_pvs");

/// A complete, valid set of backend variables.
const VALID: [(&str, &str); 3] = [
    ("REDIS_URL", "redis://127.0.0.1:6379"),
    (
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/pvs_never_created",
    ),
    ("STORAGE_URL", "memory://"),
];

/// The variables each service cannot start without.
const NEEDS: [(&str, &[&str]); 6] = [
    ("ingestor", &["REDIS_URL"]),
    ("preprocessor", &["REDIS_URL", "STORAGE_URL"]),
    ("registrar", &["REDIS_URL", "DATABASE_URL", "STORAGE_URL"]),
    ("seeder", &["REDIS_URL", "DATABASE_URL", "STORAGE_URL"]),
    ("renderer", &["DATABASE_URL", "STORAGE_URL"]),
    ("cache", &["DATABASE_URL", "STORAGE_URL"]),
];

fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    clean_command(program, args, env.iter().copied())
        .output()
        .expect("pvs runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_every_service() {
    let out = run(Path::new(PVS), &["--help"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for (service, _) in NEEDS {
        assert!(text.contains(service), "--help misses {service}:\n{text}");
    }
}

#[test]
fn every_service_has_help_with_listen() {
    for (service, _) in NEEDS {
        let out = run(Path::new(PVS), &[service, "--help"], &[]);
        assert!(out.status.success(), "{service} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--listen"), "{service} --help:\n{text}");
    }
}

#[test]
fn missing_or_malformed_variable_exits_2_with_one_line_naming_it() {
    for (service, needs) in NEEDS {
        for var in needs {
            let others: Vec<_> = VALID.iter().copied().filter(|(k, _)| k != var).collect();

            let out = run(Path::new(PVS), &[service], &others);
            assert_eq!(out.status.code(), Some(2), "{service} without {var}");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{service} without {var}: {err}");
            assert!(
                err.starts_with(&format!("pvs {service}: {var}: is required but not set")),
                "{err}"
            );

            let mut malformed = others.clone();
            malformed.push((var, "not-a-url"));
            let out = run(Path::new(PVS), &[service], &malformed);
            assert_eq!(out.status.code(), Some(2), "{service} with {var}=not-a-url");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with(&format!(
                    "pvs {service}: {var}: invalid value \"not-a-url\""
                )),
                "{err}"
            );
            assert!(err.contains(&format!("(example: {var}=")), "{err}");
        }
    }
}

#[test]
fn malformed_listen_flag_is_a_usage_error() {
    let out = run(Path::new(PVS), &["renderer", "--listen", "nowhere"], &VALID);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ADDRESS:PORT"), "{}", stderr(&out));
}

#[test]
fn a_link_named_after_a_service_acts_as_that_service() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("registrar");
    std::os::unix::fs::symlink(PVS, &link).unwrap();

    let out = run(&link, &["--help"], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: pvs registrar"));

    let out = run(&link, &[], &[("DATABASE_URL", "not-a-url")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("pvs registrar: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn renderer_limits_out_of_range_exit_2_naming_the_variable() {
    for (var, value) in [
        ("RENDER_MAX_SIZE", "0"),
        ("RENDER_MAX_SIZE", "99999"),
        ("RENDER_CACHE_MB", "0"),
        ("RENDER_CACHE_MB", "lots"),
        ("RENDER_CACHE_MB", "70000"),
    ] {
        let mut env = VALID.to_vec();
        env.push((var, value));
        let out = run(Path::new(PVS), &["renderer"], &env);
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("pvs renderer: {var}: ")) && err.contains("whole number"),
            "{var}={value}: {err}"
        );
    }
}

#[test]
fn a_runtime_failure_exits_1_with_its_cause() {
    // The catalog at a closed port: the database driver's own error ends the line.
    let mut env = VALID.to_vec();
    env[1] = ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/pvs");
    let out = run(
        Path::new(PVS),
        &["registrar", "--listen", "127.0.0.1:0"],
        &env,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "pvs registrar: cannot connect to the catalog database postgres://postgres@127.0.0.1:1/pvs: "
        ) && err.contains("refused"),
        "{err}"
    );

    // A taken port: the I/O error is the cause, said once.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = run(
        Path::new(PVS),
        &["ingestor", "--listen", &address],
        &VALID[..1],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        format!("pvs ingestor: cannot listen on {address}: Address already in use (os error 98)")
    );
}
