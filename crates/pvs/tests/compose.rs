//! The deployment files an operator runs: `docker-compose.yml`, `docker-compose.ops.yml`, the
//! `env/*.env.example` files, the proxy configuration and the `Dockerfile`.
//!
//! No Docker engine runs here, so the files are checked as Compose reads them: against the
//! Compose Specification JSON Schema (fetched by `scripts/setup.sh`, validated with Python's
//! `jsonschema` by `compose_check.py`), and for what the stack needs: every variable set is
//! one pvs documents or the third-party image's own, secrets come from uncommitted env files
//! with committed examples, start order follows health, the ops overrides scale and limit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Compose Specification schema `scripts/setup.sh` fetches.
fn schema() -> PathBuf {
    let path = std::env::var_os("PVS_COMPOSE_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/pvs/compose-spec/compose-spec.json")
        });
    assert!(
        path.is_file(),
        "the Compose Specification schema is not at {} (run scripts/setup.sh)",
        path.display()
    );
    path
}

/// Runs `compose_check.py` on `files`: per file, the schema violations and the document.
fn check(files: &[&Path]) -> BTreeMap<String, (Vec<String>, Value)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose_check.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(schema())
        .args(files)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "compose_check.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("compose_check.py's JSON");
    answer["files"]
        .as_object()
        .expect("files")
        .iter()
        .map(|(file, result)| {
            let errors = result["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .map(|e| e.as_str().expect("error text").to_owned())
                .collect();
            (file.clone(), (errors, result["document"].clone()))
        })
        .collect()
}

/// The two compose files, parsed and validated: `(base, ops)`.
fn compose_files() -> (Value, Value) {
    let base = root().join("docker-compose.yml");
    let ops = root().join("docker-compose.ops.yml");
    let mut results = check(&[&base, &ops]);
    for (file, (errors, _)) in &results {
        assert!(
            errors.is_empty(),
            "{file} breaks the Compose Specification:\n{}",
            errors.join("\n")
        );
    }
    let mut take = |path: &Path| {
        results
            .remove(&path.display().to_string())
            .expect("each file's result")
            .1
    };
    (take(&base), take(&ops))
}

fn services(document: &Value) -> &serde_json::Map<String, Value> {
    document["services"].as_object().expect("a services map")
}

/// The names a service's `environment` sets (map or `KEY=value` list form).
fn environment_names(service: &Value) -> Vec<String> {
    match &service["environment"] {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                let text = i.as_str().expect("a KEY=value entry");
                text.split('=').next().unwrap_or(text).to_owned()
            })
            .collect(),
        Value::Null => Vec::new(),
        other => panic!("environment is neither a map nor a list: {other}"),
    }
}

/// The env files a service reads (`env_file` as a string, list of strings or of `{path}`).
fn env_files(service: &Value) -> Vec<String> {
    let entry = |v: &Value| match v {
        Value::String(path) => path.clone(),
        Value::Object(map) => map["path"].as_str().expect("env_file path").to_owned(),
        other => panic!("unexpected env_file entry {other}"),
    };
    match &service["env_file"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(entry).collect(),
        other => vec![entry(other)],
    }
}

/// The variables an env file sets (`KEY=value` lines; `#` comments and blank lines skipped).
fn env_file_names(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, _) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: {l:?} is not KEY=value", path.display()));
            name.trim().to_owned()
        })
        .collect()
}

/// The image of a service, following `extends` into the base file.
fn image_of<'a>(name: &str, service: &'a Value, base: &'a Value) -> &'a str {
    if let Some(image) = service["image"].as_str() {
        return image;
    }
    if let Some(parent) = service["extends"]["service"].as_str() {
        return image_of(parent, &services(base)[parent], base);
    }
    // An override of a base service keeps the base's image.
    services(base)
        .get(name)
        .and_then(|s| s["image"].as_str())
        .unwrap_or_else(|| panic!("service {name} has no image"))
}

/// The prefixes of the variables each third-party image reads itself.
fn image_variables(image: &str) -> &'static [&'static str] {
    let repository = image.split(':').next().unwrap_or(image);
    match repository {
        "postgis/postgis" | "postgres" => &["POSTGRES_", "PGDATA"],
        "minio/minio" | "minio/mc" => &["MINIO_"],
        "atmoz/sftp" => &["SFTP_USERS"],
        "redis" | "nginx" => &[],
        other => panic!("no list of the variables image {other} reads: add it here"),
    }
}

#[test]
fn compose_files_follow_the_compose_specification() {
    // Both files pass (compose_files asserts it) ...
    let (base, ops) = compose_files();
    assert!(services(&base).contains_key("renderer"));
    assert!(services(&ops).contains_key("renderer"));
    // ... and the check does reject what breaks the specification.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "services:\n  a:\n    image: x\n    imagee: y\n    depends_on:\n      b: {condition: when_ready}\n    deploy: {replicas: [2]}\n",
    )
    .unwrap();
    let results = check(&[&broken]);
    let errors = &results[&broken.display().to_string()].0;
    for at in [
        "services/a: Unevaluated properties are not allowed ('depends_on', 'imagee'",
        "services/a/depends_on:",
        "services/a/deploy/replicas:",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(at)),
            "no error at {at}: {errors:?}"
        );
    }
}

#[test]
fn every_variable_set_is_documented_by_pvs_or_read_by_the_image() {
    let (base, ops) = compose_files();
    let documented: BTreeSet<&str> = pvs_service::config::vars::ALL
        .iter()
        .map(|v| v.name)
        .collect();
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let mut checked = 0;
    for document in [&base, &ops] {
        for (name, service) in services(document) {
            let image = image_of(name, service, &base);
            let mut names = environment_names(service);
            for file in env_files(service) {
                names.extend(env_file_names(&root().join(format!("{file}.example"))));
            }
            for var in names {
                checked += 1;
                if image.starts_with("pvs:") {
                    assert!(
                        documented.contains(var.as_str()),
                        "service {name} sets {var}, which pvs does not read (pvs_service::config::vars)"
                    );
                    assert!(
                        doc.contains(&format!("| `{var}` |")),
                        "{var} is not in docs/configuration.md"
                    );
                } else {
                    assert!(
                        image_variables(image).iter().any(|p| var.starts_with(p)),
                        "service {name} sets {var}, which image {image} does not read"
                    );
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} variables found: the files were not read"
    );
}

#[test]
fn secrets_come_from_uncommitted_env_files_with_committed_examples() {
    let (base, ops) = compose_files();
    let ignored = std::fs::read_to_string(root().join("env/.gitignore")).unwrap();
    assert!(ignored.lines().any(|l| l.trim() == "*.env"), "{ignored}");
    assert!(
        ignored.lines().any(|l| l.trim() == "*.htpasswd"),
        "{ignored}"
    );
    let mut files = BTreeSet::new();
    for document in [&base, &ops] {
        for (name, service) in services(document) {
            for file in env_files(service) {
                assert!(
                    file.starts_with("env/") && file.ends_with(".env"),
                    "service {name}: env file {file} is not env/*.env (ignored by git)"
                );
                assert!(
                    root().join(format!("{file}.example")).is_file(),
                    "service {name}: {file}.example is missing"
                );
                files.insert(file);
            }
            // No secret is written into the compose files themselves.
            for var in environment_names(service) {
                assert!(
                    ![
                        "PASSWORD",
                        "SECRET",
                        "TOKEN",
                        "AUTH",
                        "DATABASE_URL",
                        "USERS"
                    ]
                    .iter()
                    .any(|word| var.contains(word)),
                    "service {name} sets {var} in the compose file: secrets go in env/*.env"
                );
            }
        }
    }
    assert!(files.contains("env/pvs.env") && files.contains("env/postgis.env"));
    // The examples agree with one another: the catalog and the object storage credentials.
    let read = |file: &str| -> BTreeMap<String, String> {
        std::fs::read_to_string(root().join(file))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| !k.trim_start().starts_with('#'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    };
    let pvs = read("env/pvs.env.example");
    let postgis = read("env/postgis.env.example");
    let minio = read("env/minio.env.example");
    let database = url::Url::parse(&pvs["DATABASE_URL"]).unwrap();
    assert_eq!(database.username(), postgis["POSTGRES_USER"]);
    assert_eq!(
        database.password(),
        Some(postgis["POSTGRES_PASSWORD"].as_str())
    );
    assert_eq!(database.path(), format!("/{}", postgis["POSTGRES_DB"]));
    assert_eq!(pvs["AWS_ACCESS_KEY_ID"], minio["MINIO_ROOT_USER"]);
    assert_eq!(pvs["AWS_SECRET_ACCESS_KEY"], minio["MINIO_ROOT_PASSWORD"]);
    // The bucket the stack creates is the one pvs uses.
    let bucket = services(&base)["create-bucket"]["entrypoint"].to_string();
    let storage = url::Url::parse(&pvs["STORAGE_URL"]).unwrap();
    let bucket_name = storage.host_str().expect("a bucket");
    assert!(bucket.contains(&format!("local/{bucket_name}")), "{bucket}");
}

#[test]
fn services_start_after_the_backends_they_need_are_healthy() {
    let (base, _) = compose_files();
    let all = services(&base);
    let pvs = [
        "ingestor",
        "preprocessor",
        "registrar",
        "seeder",
        "renderer",
        "cache",
    ];
    for name in pvs
        .iter()
        .chain(&["redis", "postgis", "minio", "sftp", "proxy"])
    {
        let service = all
            .get(*name)
            .unwrap_or_else(|| panic!("no service {name}"));
        let test = service["healthcheck"]["test"].to_string();
        assert!(
            test.contains("health")
                || test.contains("ping")
                || test.contains("ready")
                || test.contains("pid"),
            "service {name} has no health check: {test}"
        );
    }
    // Who needs what (the binary's own check: crates/pvs/src/main.rs, backend_vars).
    let needs: [(&str, &[&str]); 6] = [
        ("ingestor", &["redis", "create-bucket"]),
        ("preprocessor", &["redis", "create-bucket"]),
        ("registrar", &["redis", "postgis", "create-bucket"]),
        ("renderer", &["postgis", "create-bucket"]),
        ("cache", &["renderer"]),
        ("seeder", &["redis", "renderer"]),
    ];
    for (name, backends) in needs {
        let depends = &all[name]["depends_on"];
        for backend in backends {
            let condition = depends[*backend]["condition"].as_str();
            let expected = if *backend == "create-bucket" {
                "service_completed_successfully"
            } else {
                "service_healthy"
            };
            assert_eq!(
                condition,
                Some(expected),
                "{name} must wait for {backend} ({expected})"
            );
        }
    }
    // The proxy waits for what it routes to; the SFTP folders are shared with the services.
    for upstream in ["ingestor", "renderer", "cache"] {
        assert_eq!(
            all["proxy"]["depends_on"][upstream]["condition"],
            "service_healthy"
        );
    }
    let mounts = |name: &str| all[name]["volumes"].to_string();
    assert!(mounts("sftp").contains("reports-in:") && mounts("ingestor").contains("reports-in:"));
    assert!(
        mounts("sftp").contains("reports-out:") && mounts("registrar").contains("reports-out:")
    );
    assert_eq!(
        all["registrar"]["environment"]["REPORT_DIR"],
        "/srv/sftp/to/panda"
    );
    assert!(
        all["ingestor"]["command"]
            .to_string()
            .contains("/srv/sftp/from/fepd")
    );
    assert_eq!(all["preprocessor"]["deploy"]["replicas"], 2);
    assert!(
        base["volumes"]["redis-data"].is_null()
            && all["redis"]["volumes"]
                .to_string()
                .contains("redis-data:/data")
    );
}

#[test]
fn ops_overrides_scale_limit_and_protect_the_write_endpoint() {
    let (base, ops) = compose_files();
    for (name, service) in services(&ops) {
        assert!(
            services(&base).contains_key(name) || service["extends"].is_object(),
            "ops service {name} is neither in docker-compose.yml nor extends one"
        );
        assert_eq!(
            service["restart"], "unless-stopped",
            "{name}: restart policy"
        );
        let limits = &service["deploy"]["resources"]["limits"];
        assert!(
            limits["cpus"].is_string() && limits["memory"].is_string(),
            "{name}: no CPU and memory limits"
        );
    }
    for name in ["renderer", "cache", "ingestor", "preprocessor"] {
        let replicas = services(&ops)[name]["deploy"]["replicas"].as_u64();
        assert!(replicas >= Some(2), "{name}: {replicas:?} replicas");
    }
    // One watcher for the drop folder; the scaled ingestors take HTTP only.
    assert_eq!(
        services(&ops)["ingestor"]["command"],
        serde_json::json!(["ingestor"])
    );
    assert_eq!(services(&ops)["ingestor-watch"]["deploy"]["replicas"], 1);
    // The proxy's ops configuration asks for basic auth on /ingest.
    let proxy = services(&ops)["proxy"]["volumes"].to_string();
    assert!(
        proxy.contains("pvs-ops.conf") && proxy.contains("env/ingest.htpasswd"),
        "{proxy}"
    );
    let conf = std::fs::read_to_string(root().join("deploy/nginx/pvs-ops.conf")).unwrap();
    let ingest = conf
        .split("location = /ingest")
        .nth(1)
        .expect("an /ingest location");
    assert!(
        ingest.contains("auth_basic ") && ingest.contains("auth_basic_user_file"),
        "{conf}"
    );
}

#[test]
fn the_proxy_routes_every_public_endpoint() {
    let shared = std::fs::read_to_string(root().join("deploy/nginx/locations.conf")).unwrap();
    for server in ["pvs.conf", "pvs-ops.conf"] {
        let conf = std::fs::read_to_string(root().join("deploy/nginx").join(server)).unwrap();
        assert!(conf.contains("include pvs/locations.conf;"), "{server}");
        assert!(conf.contains("include pvs/http.conf;"), "{server}");
        let text = format!("{conf}\n{shared}");
        let routes = [
            ("location = /ows", "$pvs_cache"),
            ("location /wmts", "$pvs_cache"),
            ("location /tiles/", "$pvs_cache"),
            ("location = /cache/ows", "$pvs_cache"),
            ("location /cache/ows/wmts", "$pvs_cache"),
            ("location /opensearch", "$pvs_renderer"),
            ("location = /ingest", "$pvs_ingestor"),
            ("location / {", "$pvs_cache"),
        ];
        for (location, upstream) in routes {
            let block = text
                .split(location)
                .nth(1)
                .unwrap_or_else(|| panic!("{server}: no `{location}`"));
            let block = &block[..block.find('}').expect("a closed block")];
            assert!(
                block.contains(&format!("proxy_pass {upstream};")),
                "{server}: `{location}` does not go to {upstream}: {block}"
            );
        }
    }
    for (var, upstream) in [
        ("$pvs_cache", "http://cache:8080"),
        ("$pvs_renderer", "http://renderer:8080"),
        ("$pvs_ingestor", "http://ingestor:8080"),
    ] {
        assert!(shared.contains(&format!("set {var} {upstream};")), "{var}");
    }
    assert!(shared.contains("proxy_set_header X-Request-Id $pvs_request_id;"));
}

#[test]
fn dockerfile_passes_hadolint() {
    let output = Command::new("hadolint")
        .arg("--config")
        .arg(root().join("deploy/hadolint.yaml"))
        .arg(root().join("Dockerfile"))
        .output()
        .expect("hadolint runs (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    // A link per service name (crates/pvs/src/main.rs, SERVICES).
    assert!(
        dockerfile
            .contains("for service in ingestor preprocessor registrar seeder renderer cache; do"),
        "the service links"
    );
    assert!(dockerfile.contains("FROM debian:${DEBIAN_RELEASE}-slim"));
    assert!(dockerfile.contains("ARG DEBIAN_RELEASE=bookworm"));
    assert!(dockerfile.contains("USER 10001:10001"));
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/health"));
}

#[test]
fn nginx_accepts_both_proxy_configurations() {
    for server in ["pvs.conf", "pvs-ops.conf"] {
        // The image's layout: the server file as conf.d/default.conf, deploy/nginx as pvs/.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("pvs")).unwrap();
        for entry in std::fs::read_dir(root().join("deploy/nginx")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(
                &path,
                dir.path().join("pvs").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
        std::fs::copy(
            root().join("deploy/nginx").join(server),
            dir.path().join("conf.d/default.conf"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "pid {0}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n    include conf.d/default.conf;\n}}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let output = Command::new("nginx")
            .arg("-t")
            .arg("-e")
            .arg("stderr")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .output()
            .expect("nginx runs (scripts/setup.sh installs it)");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{server}: {said}");
        assert!(said.contains("syntax is ok"), "{server}: {said}");
    }
}
