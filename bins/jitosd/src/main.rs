//! `jitosd`: the JITOS daemon, in the foreground.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use clap::{CommandFactory, FromArgMatches};
use jitosd::{
    cli::{daemon_config, DaemonArgs, LogFormat},
    otlp::{Otlp, OtlpError},
    reload::{GovernanceFiles, Reloaded, Reloader},
    settings, Daemon,
};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing_subscriber::{layer::SubscriberExt as _, util::SubscriberInitExt as _, Layer as _};

/// How long, once the daemon has stopped, its blocking tasks still running (a built-in job
/// copying files) get before the process exits under them; the ledger holds what they
/// did, as after any kill.
const BLOCKING_TASKS_WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    // Before any thread exists, which is when the environment may change: an empty
    // JITOS_* variable is unset, as the CLI reads one, and a passed socket is taken.
    forget_empty_settings();
    let passed = match jitosd::socket::inherited() {
        Ok(passed) => passed,
        Err(e) => {
            eprintln!("jitosd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = DaemonArgs::command();
    let settings = match settings::parse(&command, std::env::args_os().collect(), |given| {
        given.get_one::<PathBuf>("config").cloned()
    }) {
        Ok(settings) => settings,
        Err(e) => e.exit(),
    };
    let args = match DaemonArgs::from_arg_matches(&settings.matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    if args.print_config {
        print!("{}", settings::render(&command, &settings));
        return ExitCode::SUCCESS;
    }
    if args.print_schema {
        print!("{}", jitosd::http::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let check_only = args.check_config;
    // A check sends nothing.
    let collector = args.otlp.clone().filter(|_| !check_only);
    let otlp = match init_logging(&args.log, args.log_format, collector.as_ref()) {
        Ok(otlp) => otlp,
        Err(e) => {
            eprintln!("jitosd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = GovernanceFiles {
        access: args.access.clone(),
        policy: args.policy.clone(),
    };
    let config = match daemon_config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("jitosd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if check_only {
        let file = match &settings.file {
            Some(file) => file.path.display().to_string(),
            None => "none".to_owned(),
        };
        println!(
            "jitosd: the configuration is sound (configuration file: {file}; store {}, socket {})",
            config.data_dir.display(),
            config.socket.display()
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("jitosd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        // Before the store opens, which may take long: a reload asked meanwhile waits for
        // the daemon, where SIGHUP's default action would kill it.
        let hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => {
                eprintln!("jitosd: cannot handle SIGHUP, which reloads the access file and the policy: {e}");
                return ExitCode::FAILURE;
            }
        };
        let started = match passed {
            Some(passed) => Daemon::start_on(config, passed),
            None => Daemon::start(config),
        };
        let daemon = match started {
            Ok(daemon) => daemon,
            Err(e) => {
                eprintln!("jitosd: {e}");
                return ExitCode::FAILURE;
            }
        };
        tokio::spawn(reload_on_hangup(daemon.reloader(files), hangups));
        match daemon.serve(shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("jitosd: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // The runtime goes first, so the spans that blocking tasks still held (a built-in
    // job's) have ended; and the export's HTTP client blocks, which a runtime forbids.
    runtime.shutdown_timeout(BLOCKING_TASKS_WAIT);
    if let Some(otlp) = otlp {
        otlp.shutdown();
    }
    code
}

/// Unsets each `JITOS_*` variable that is set but empty, so it reads as unset.
fn forget_empty_settings() {
    for (name, value) in std::env::vars_os() {
        if value.is_empty() && name.to_string_lossy().starts_with("JITOS_") {
            std::env::remove_var(name);
        }
    }
}

/// Logs to standard error, filtered by `filter`: JSON lines (with the span each is in) or
/// text, as `format` says; and, given a `collector`, sends the traced spans there.
fn init_logging(
    filter: &str,
    format: LogFormat,
    collector: Option<&reqwest::Url>,
) -> Result<Option<Otlp>, OtlpError> {
    let terminal = std::io::stderr().is_terminal();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match (format, terminal) {
        (LogFormat::Json, _) | (LogFormat::Auto, false) => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        // Colour codes only for a person watching.
        (LogFormat::Text, _) | (LogFormat::Auto, true) => fmt.with_ansi(terminal).boxed(),
    };
    let otlp = collector.map(Otlp::start).transpose()?;
    // Each layer filters for itself: the spans sent do not depend on what is logged.
    tracing_subscriber::registry()
        .with(fmt.with_filter(tracing_subscriber::EnvFilter::new(filter)))
        .with(otlp.as_ref().map(Otlp::layer))
        .init();
    Ok(otlp)
}

/// Reloads the access file and the policy at each `SIGHUP` until the daemon stops,
/// saying in the log what changed or why nothing did.
async fn reload_on_hangup(mut reloader: Reloader, mut hangups: Signal) {
    loop {
        tokio::select! {
            got = hangups.recv() => if got.is_none() { return },
            () = reloader.stopped() => return,
        }
        match reloader.reload().await {
            Ok(Reloaded::AccessAndPolicy { policy_recorded }) => tracing::info!(
                policy_recorded,
                "reloaded the access file and the policy"
            ),
            Ok(Reloaded::AccessOnly) => tracing::info!(
                "reloaded the access file; a read-only jitosd records no policy, so the policy file was not read"
            ),
            Err(e) => tracing::error!(error = %e, "the reload changed nothing"),
        }
    }
}

async fn shutdown_signal() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop jitosd with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
