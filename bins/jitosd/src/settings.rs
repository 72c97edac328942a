//! Where each of `jitosd`'s settings comes from: the command line, else the environment
//! (`JITOS_*`), else the configuration file, else the built-in default.
//!
//! The file (`--config FILE`, else `$JITOS_CONFIG`, else `$XDG_CONFIG_HOME/jitos/jitosd.toml`
//! or `/etc/jitos/jitosd.toml`, the first that exists) is TOML whose keys are the long
//! flags (`data-dir = "/var/lib/jitos"`, `output-root = ["/srv/out"]`,
//! `allow-unconfined-workers = true`). Its values become arguments for the flags the
//! command line and the environment left unset, and clap parses everything once more: so
//! the file takes exactly what the flags take, checked by the same parsers, and every flag
//! has a key without a second list of them to keep in step.

use std::{
    collections::BTreeSet,
    ffi::OsString,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use clap::{parser::ValueSource, ArgAction, ArgMatches, Command};

/// Flags that are about the configuration itself, never keys of it.
const NOT_KEYS: [&str; 6] = [
    "config",
    "print_config",
    "check_config",
    "print_schema",
    "help",
    "version",
];

/// The longest configuration file read, in bytes: far above any real one.
const FILE_BYTES_MAX: u64 = 1024 * 1024;

/// The system-wide configuration file.
const SYSTEM_FILE: &str = "/etc/jitos/jitosd.toml";

/// A configuration file and its keys, read.
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    table: toml::Table,
    text: String,
}

/// The file `jitosd` reads: `explicit` (`--config` or `$JITOS_CONFIG`, which must exist),
/// else the user's (`$XDG_CONFIG_HOME/jitos/jitosd.toml`, else `~/.config/…`), else the
/// system's, if either exists. Root reads only the system's: a root daemon takes no
/// settings from a directory an environment variable points it to.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    let non_empty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    let user = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")))
        .map(|dir| dir.join("jitos/jitosd.toml"))
        .filter(|_| !nix::unistd::Uid::effective().is_root());
    user.into_iter()
        .chain([PathBuf::from(SYSTEM_FILE)])
        .find(|path| path.is_file())
}

impl ConfigFile {
    /// Reads and parses `path`, refusing a key that is not a flag of `command`.
    pub fn read(path: &Path, command: &Command) -> Result<ConfigFile, String> {
        let shown = path.display();
        let size = std::fs::metadata(path)
            .map_err(|e| format!("cannot read the configuration file {shown}: {e}"))?
            .len();
        if size > FILE_BYTES_MAX {
            return Err(format!(
                "the configuration file {shown} is {size} bytes; at most {FILE_BYTES_MAX}"
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the configuration file {shown}: {e}"))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("{shown}: {}", e.message().trim()))?;
        let file = ConfigFile {
            path: path.to_owned(),
            table,
            text,
        };
        let unknown: Vec<String> = file
            .table
            .keys()
            .filter(|key| keys(command).all(|(long, _)| long != key.as_str()))
            .map(|key| format!("{}: unknown key `{key}`", file.place(key)))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "{}; the keys are jitosd's long flags: {}",
                unknown.join("; "),
                keys(command)
                    .map(|(long, _)| long)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(file)
    }

    /// The arguments its keys stand for, for the flags `given` left to it, and the ids of
    /// those flags.
    fn arguments(
        &self,
        command: &Command,
        given: &ArgMatches,
    ) -> Result<(Vec<OsString>, BTreeSet<String>), String> {
        let mut out = Vec::new();
        let mut filled = BTreeSet::new();
        for (long, id) in keys(command) {
            let Some(value) = self.table.get(long) else {
                continue;
            };
            if matches!(
                given.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) {
                continue;
            }
            let flag = command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .ok_or_else(|| format!("no flag --{long}"))?;
            filled.insert(id.to_owned());
            let wrong = |wanted: &str| format!("{}: `{long}` must be {wanted}", self.place(long));
            match (flag.get_action(), value) {
                (ArgAction::SetTrue, toml::Value::Boolean(true)) => {
                    out.push(format!("--{long}").into())
                }
                (ArgAction::SetTrue, toml::Value::Boolean(false)) => {}
                (ArgAction::SetTrue, _) => return Err(wrong("true or false")),
                (ArgAction::Append, toml::Value::Array(items)) => {
                    for item in items {
                        out.push(
                            format!(
                                "--{long}={}",
                                scalar(item).ok_or_else(|| wrong("a list of strings"))?
                            )
                            .into(),
                        );
                    }
                }
                (ArgAction::Append, _) => return Err(wrong("a list, e.g. [\"/srv/out\"]")),
                (_, value) => out.push(
                    format!(
                        "--{long}={}",
                        scalar(value).ok_or_else(|| wrong("a string, a number or true/false"))?
                    )
                    .into(),
                ),
            }
        }
        Ok((out, filled))
    }

    /// `FILE:LINE:COLUMN` of `key` (a line that sets it: the key, spaces, `=`), or the
    /// file alone when none does.
    fn place(&self, key: &str) -> String {
        let found = self.text.lines().enumerate().find_map(|(line, text)| {
            let column = text.len() - text.trim_start().len();
            let rest = text.trim_start().strip_prefix(key)?;
            rest.trim_start()
                .starts_with('=')
                .then_some((line + 1, column + 1))
        });
        match found {
            Some((line, column)) => format!("{}:{line}:{column}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// The settings in force: the parsed flags, the file read (if any), and the flags it set.
pub struct Settings {
    /// Every flag, as parsed with the file's arguments.
    pub matches: ArgMatches,
    /// The configuration file read.
    pub file: Option<ConfigFile>,
    /// The ids of the flags whose values came from the file.
    from_file: BTreeSet<String>,
}

/// Parses `argv` against `command`, the file's keys standing in for the flags the command
/// line and the environment left unset; `explicit` names the file the flags ask for.
pub fn parse(
    command: &Command,
    argv: Vec<OsString>,
    explicit: impl Fn(&ArgMatches) -> Option<PathBuf>,
) -> Result<Settings, clap::Error> {
    let given = command.clone().try_get_matches_from(argv.clone())?;
    let Some(path) = locate(explicit(&given).as_deref()) else {
        return Ok(Settings {
            matches: given,
            file: None,
            from_file: BTreeSet::new(),
        });
    };
    let misread = |message: String| {
        command
            .clone()
            .error(clap::error::ErrorKind::InvalidValue, message)
    };
    let file = ConfigFile::read(&path, command).map_err(misread)?;
    let (from_file, filled) = file.arguments(command, &given).map_err(misread)?;
    let mut all = argv;
    // The file's arguments go right after the program's name.
    let after_name = all.len().min(1);
    all.splice(after_name..after_name, from_file);
    let matches = command.clone().try_get_matches_from(all).map_err(|e| {
        let first = e.to_string();
        let first = first
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        misread(format!(
            "{}: a value does not fit its flag: {first}",
            path.display()
        ))
    })?;
    Ok(Settings {
        matches,
        file: Some(file),
        from_file: filled,
    })
}

/// The settings in force as a configuration file, each with where it came from: what
/// `jitosd --print-config` prints, and reads back the same.
pub fn render(command: &Command, settings: &Settings) -> String {
    let matches = &settings.matches;
    let mut out = String::from("# jitosd's settings in force, each with where it came from\n");
    match &settings.file {
        Some(file) => {
            let _ = writeln!(out, "# configuration file: {}", file.path.display());
        }
        None => out.push_str("# configuration file: none\n"),
    }
    for (long, id) in keys(command) {
        // The file's values were given as arguments (a `false` as none at all).
        let source = match matches.value_source(id) {
            _ if settings.from_file.contains(id) => "configuration file",
            Some(ValueSource::CommandLine) => "command line",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => "default",
            _ => {
                let _ = writeln!(out, "# {long}: not set");
                continue;
            }
        };
        let raw: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let flag = command.get_arguments().find(|arg| arg.get_id() == id);
        let value = match flag.map(|f| f.get_action()) {
            Some(ArgAction::SetTrue) => toml::Value::Boolean(matches.get_flag(id)),
            Some(ArgAction::Append) => {
                toml::Value::Array(raw.into_iter().map(toml::Value::String).collect())
            }
            _ => typed(raw.into_iter().next().unwrap_or_default()),
        };
        let _ = writeln!(out, "{long} = {value}  # {source}");
    }
    out
}

/// Each flag that is a key of the file: its long name and its id.
fn keys(command: &Command) -> impl Iterator<Item = (&str, &str)> + '_ {
    command
        .get_arguments()
        .filter(|arg| !NOT_KEYS.contains(&arg.get_id().as_str()))
        .filter_map(|arg| Some((arg.get_long()?, arg.get_id().as_str())))
}

/// A TOML scalar as the flag's argument text.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        toml::Value::Float(number) => Some(number.to_string()),
        toml::Value::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A flag's argument text as TOML: a number when it is one written plainly (so `007` or
/// `+5`, which a path may be, stay strings), else a string.
fn typed(raw: String) -> toml::Value {
    match raw.parse::<i64>() {
        Ok(number) if number.to_string() == raw => toml::Value::Integer(number),
        _ => toml::Value::String(raw),
    }
}
