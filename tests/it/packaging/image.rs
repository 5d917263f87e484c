//! The container image, read from its Dockerfile (no Docker engine runs here): a locked
//! multi-stage release build, a non-root user, the health check, both listeners on all
//! interfaces, the production template as its configuration, a volume for the store, OCI labels.
//! The binary then runs on the files the Dockerfile copies, laid out as in the image and with the
//! image's environment, so what the image does when started is tested, not assumed.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use flowgate::queue::sqlite::SqliteStore;

use super::dockerfile::{
    ImageFiles, Instruction, copies, dockerfile, image_config, load_image_config, pairs_of,
    runtime_stage, words, workdir,
};
use super::read;

const BIN: &str = env!("CARGO_BIN_EXE_flowgate");

#[test]
fn the_image_is_a_multi_stage_locked_release_build() {
    let instructions = dockerfile();
    let stages = instructions.iter().filter(|i| i.keyword == "FROM").count();
    assert!(
        stages >= 2,
        "a build stage and a runtime stage, found {stages}"
    );
    let build = instructions
        .iter()
        .find(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .expect("a RUN with cargo build");
    for flag in ["--release", "--locked"] {
        assert!(build.args.contains(flag), "cargo build without {flag}");
    }
    let runtime = runtime_stage(&instructions);
    assert!(
        runtime
            .iter()
            .any(|i| i.keyword == "COPY" && i.args.starts_with("--from=")),
        "the runtime stage copies the binary from the build stage"
    );
    assert!(
        !runtime.iter().any(|i| i.args.contains("cargo ")),
        "the runtime stage carries no toolchain"
    );
}

#[test]
fn the_image_runs_as_a_non_root_user() {
    let instructions = dockerfile();
    let user = runtime_stage(&instructions)
        .iter()
        .rfind(|i| i.keyword == "USER")
        .expect("a USER in the runtime stage");
    let name = user.args.split(':').next().unwrap_or_default();
    assert!(
        !["root", "0", ""].contains(&name),
        "USER {} is root",
        user.args
    );
}

#[test]
fn the_image_checks_its_health_and_serves_by_default() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let last = |keyword: &str| {
        runtime
            .iter()
            .rfind(|i| i.keyword == keyword)
            .map(|i| words(&i.args))
            .unwrap_or_else(|| panic!("no {keyword} in the runtime stage"))
    };
    let health = last("HEALTHCHECK");
    assert!(
        health.contains("CMD flowgate healthcheck"),
        "HEALTHCHECK must run `flowgate healthcheck`: {health}"
    );
    assert_eq!(last("ENTRYPOINT"), "flowgate");
    assert_eq!(last("CMD"), "serve");
}

#[test]
fn the_image_exposes_both_listeners_on_all_interfaces() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let exposed: Vec<&str> = runtime
        .iter()
        .filter(|i| i.keyword == "EXPOSE")
        .flat_map(|i| i.args.split_whitespace())
        .map(|port| port.trim_end_matches("/tcp"))
        .collect();
    let env = pairs_of(runtime, "ENV");
    let value = |key: &str| {
        env.get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no ENV {key}"))
    };
    assert_eq!(value("FLOWGATE_SERVER__LISTEN"), "0.0.0.0:8080");
    assert_eq!(value("FLOWGATE_SERVER__ADMIN_LISTEN"), "0.0.0.0:9090");

    // The variables are real configuration, and the ports they open are the ones exposed.
    let config = load_image_config(&ImageFiles::build(runtime), runtime);
    for address in [config.server.listen, config.server.admin_listen] {
        assert!(
            address.ip().is_unspecified(),
            "{address} is not all interfaces"
        );
        let port = address.port().to_string();
        assert!(
            exposed.contains(&port.as_str()),
            "port {port} is not exposed"
        );
    }
}

#[test]
fn the_build_context_leaves_out_build_output_data_and_history() {
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_matches('/').to_owned())
        .collect();
    for wanted in ["target", "data", ".git"] {
        assert!(
            ignored.iter().any(|l| l == wanted),
            ".dockerignore does not exclude {wanted}"
        );
    }
}

// === what the image serves ===

#[test]
fn the_images_configuration_is_the_production_template_not_the_demo() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let config_path = image_config(runtime);
    let sources: Vec<String> = copies(runtime)
        .into_iter()
        .filter(|(_, dest)| *dest == config_path)
        .map(|(source, _)| source)
        .collect();
    assert_eq!(
        sources,
        ["deploy/config.toml"],
        "{} in the image must be the production template",
        config_path.display()
    );

    let config = load_image_config(&ImageFiles::build(runtime), runtime);
    assert!(!config.simulator.enabled, "the image runs no simulator");
    let inline = flowgate::config::summary::inline_secrets(&config);
    assert!(
        inline.is_empty(),
        "the template writes secrets inline: {inline:?}"
    );
}

#[test]
fn the_images_store_is_on_a_volume_the_user_can_write() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let files = ImageFiles::build(runtime);
    let config = load_image_config(&files, runtime);
    let database = SqliteStore::path_from_config(&config).expect("the template's store is SQLite");
    let store_dir = files.in_image(database.parent().expect("a directory"));

    let volume = runtime
        .iter()
        .position(|i| {
            i.keyword == "VOLUME" && words(&i.args).split(' ').any(|v| store_dir.starts_with(v))
        })
        .unwrap_or_else(|| {
            panic!(
                "no VOLUME holds the store's directory {}",
                store_dir.display()
            )
        });
    // Docker seeds a new volume from the image's directory, owner included; what a RUN changes
    // there after the VOLUME is thrown away.
    let relative = store_dir
        .strip_prefix(workdir(runtime))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| store_dir.clone());
    let chown = runtime[..volume].iter().any(|i| {
        i.keyword == "RUN"
            && i.args.contains("chown")
            && (i.args.contains(&*store_dir.to_string_lossy())
                || i.args.contains(&*relative.to_string_lossy()))
    });
    assert!(
        chown,
        "a RUN before the VOLUME gives {} to the image's user",
        store_dir.display()
    );
}

#[test]
fn the_image_carries_the_oci_labels() {
    let instructions = dockerfile();
    let labels = pairs_of(runtime_stage(&instructions), "LABEL");
    let label = |name: &str| {
        let key = format!("org.opencontainers.image.{name}");
        labels
            .get(&key)
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| panic!("no LABEL {key}: {labels:?}"))
    };
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let package = &manifest["package"];
    assert_eq!(label("title"), "flowgate");
    assert_eq!(
        label("description"),
        package["description"].as_str().expect("description")
    );
    assert_eq!(
        label("licenses"),
        package["license"].as_str().expect("license")
    );
    assert_eq!(
        label("version"),
        package["version"].as_str().expect("version")
    );
}

// === the image started ===

/// Every variable the template's secrets name (`…_env`), except the admin token's: that one is
/// optional (without it `/admin/*` answers 403).
fn required_variables(text: &str) -> Vec<String> {
    fn walk(value: &toml::Value, found: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    match value.as_str() {
                        Some(var) if key.ends_with("_env") => found.push(var.to_owned()),
                        _ => walk(value, found),
                    }
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut table: toml::Table = text.parse().expect("the template is TOML");
    table.remove("admin");
    let mut found = Vec::new();
    walk(&toml::Value::Table(table), &mut found);
    found
}

/// Two distinct ports nothing listens on now, so a `serve` that wrongly starts takes no one's.
fn free_ports() -> [u16; 2] {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let (first, second) = (bind(), bind());
    [first, second].map(|listener| listener.local_addr().expect("local address").port())
}

/// Runs `flowgate VERB` as the image would: from its working directory, with only the image's
/// environment (the listeners on all interfaces, on free ports) and `extra`.
fn run_as_image(
    files: &ImageFiles,
    runtime: &[Instruction],
    verb: &str,
    extra: &[(String, String)],
) -> Output {
    let mut env = pairs_of(runtime, "ENV");
    let [public_port, admin_port] = free_ports();
    for (key, port) in [
        ("FLOWGATE_SERVER__LISTEN", public_port),
        ("FLOWGATE_SERVER__ADMIN_LISTEN", admin_port),
    ] {
        let address = env.get(key).unwrap_or_else(|| panic!("no ENV {key}"));
        let (host, _) = address.rsplit_once(':').expect("host:port");
        env.insert(key.to_owned(), format!("{host}:{port}"));
    }
    let mut child = Command::new(BIN)
        .arg(verb)
        .current_dir(files.here(&workdir(runtime)))
        .env_clear()
        .envs(env)
        .envs(extra.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs the binary");
    // It must exit; a `serve` that started instead is stopped here rather than left running.
    while child.try_wait().expect("wait for the binary").is_none() {
        if std::net::TcpStream::connect(("127.0.0.1", admin_port)).is_ok() {
            child.kill().expect("stop the binary");
            let output = child.wait_with_output().expect("the binary's output");
            panic!(
                "`flowgate {verb}` started serving:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("the binary's output")
}

#[test]
fn the_image_started_without_its_secrets_exits_naming_each_variable() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let files = ImageFiles::build(runtime);
    let variables = required_variables(&read("deploy/config.toml"));
    assert!(
        !variables.is_empty(),
        "the template names no secret variable"
    );

    for verb in ["serve", "check-config"] {
        let output = run_as_image(&files, runtime, verb, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{verb} must fail without its secrets:\n{stderr}"
        );
        for var in &variables {
            assert!(
                stderr.contains(&format!("environment variable {var} is not set")),
                "{verb} does not name {var}:\n{stderr}"
            );
        }
    }

    // Given them, the configuration is whole: every schema it names is in the image.
    let secret = "whsec_aW1hZ2UtdGVzdC1zZWNyZXQtb2YtMzIteHh4eHh4eA==".to_owned();
    let set: Vec<(String, String)> = variables
        .iter()
        .map(|v| (v.clone(), secret.clone()))
        .collect();
    let output = run_as_image(&files, runtime, "check-config", &set);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check-config with every variable set:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("configuration OK"), "{stdout}");
}

/// The `docker run` commands of the operations manual's "Running in a container",
/// continuations joined.
fn documented_docker_runs() -> Vec<String> {
    let manual = read("docs/operations.md");
    let section = manual
        .split("\n## ")
        .find(|s| s.starts_with("Running in a container"))
        .expect("docs/operations.md has a `## Running in a container` section");
    section
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l.starts_with("docker run "))
        .collect()
}

#[test]
fn the_documented_docker_run_keeps_the_store_on_a_volume() {
    let instructions = dockerfile();
    let volumes: Vec<String> = runtime_stage(&instructions)
        .iter()
        .filter(|i| i.keyword == "VOLUME")
        .flat_map(|i| {
            words(&i.args)
                .split(' ')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!volumes.is_empty(), "the image declares no VOLUME");
    // `check-config` reads, so only the commands that serve need the volume.
    let serving: Vec<String> = documented_docker_runs()
        .into_iter()
        .filter(|c| !c.ends_with("check-config"))
        .collect();
    assert!(
        !serving.is_empty(),
        "docs/operations.md shows no `docker run` that serves"
    );
    for command in serving {
        for volume in &volumes {
            let mounted = format!(":{volume} ");
            assert!(
                command.contains(" -v ") && command.contains(&mounted),
                "`{command}` does not mount a volume on {volume}"
            );
        }
        assert!(
            command.contains(" -e "),
            "`{command}` passes no secret variable"
        );
    }
}
