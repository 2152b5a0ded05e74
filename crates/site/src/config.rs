//! Site configuration: the Hugo config (discovered, merged) and `taxonomist.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use taxonomist_frontmatter::Format;
use taxonomist_model::{Diagnostic, Mode, Policy, Taxonomy, Thresholds};

use crate::Error;

/// The name of taxonomist's own config file, at the site root.
pub const CONFIG_FILE: &str = "taxonomist.toml";

/// Root config file names Hugo looks for, in Hugo's order of preference.
const ROOT_NAMES: &[&str] = &[
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
];

/// What the Hugo config says, reduced to what taxonomist needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HugoConfig {
    /// Files read, relative to the site root, in merge order.
    pub files: Vec<PathBuf>,
    /// `contentDir`, when set.
    pub content_dir: Option<String>,
    /// `taxonomies`: singular → plural, in file order. `None` when the key is absent
    /// (Hugo then uses tags and categories); an empty map disables taxonomies.
    pub taxonomies: Option<Vec<(String, String)>>,
    /// `ignoreFiles` regexes.
    pub ignore_files: Vec<String>,
    /// `defaultContentLanguage`, lowercased.
    pub default_language: Option<String>,
}

/// taxonomist's own settings from `taxonomist.toml`, all optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomistToml {
    /// `[site]`: what to load.
    #[serde(default)]
    pub site: SiteSection,
    /// `[levels]`: level thresholds.
    #[serde(default)]
    pub levels: Option<Thresholds>,
    /// `[taxonomies.<name>]`: extra taxonomies and per-taxonomy policy.
    #[serde(default)]
    pub taxonomies: BTreeMap<String, TaxonomySection>,
    /// Sections owned by later stages (`[embedded]`, `[llm]`, `[apply]`, `[store]`), kept raw.
    #[serde(default)]
    pub embedded: Option<toml::Table>,
    /// `[llm]`, kept raw for the LLM engine.
    #[serde(default)]
    pub llm: Option<toml::Table>,
    /// `[apply]`, kept raw for the apply stage.
    #[serde(default)]
    pub apply: Option<toml::Table>,
    /// `[store]`, kept raw for the store.
    #[serde(default)]
    pub store: Option<toml::Table>,
    /// `[pages]`, kept raw for term-page generation.
    #[serde(default)]
    pub pages: Option<toml::Table>,
    /// `[related]`, kept raw for related content.
    #[serde(default)]
    pub related: Option<toml::Table>,
}

/// `[site]` in `taxonomist.toml`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    /// Overrides Hugo's `contentDir`.
    pub content_dir: Option<String>,
    /// Globs (relative to the content dir); when given, only matching files are pages.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs (relative to the content dir) of files that are never pages.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Classify section pages (`_index.md`) too.
    #[serde(default)]
    pub sections: bool,
    /// Classify term pages too: each receives terms of the other taxonomies (a tag page
    /// gets categories and concepts), never of its own.
    #[serde(default)]
    pub term_pages: bool,
    /// Load Hugo's `tags` and `categories` taxonomies even when the Hugo config
    /// lists others (default: follow the Hugo config).
    #[serde(default)]
    pub only_configured: bool,
}

/// `[taxonomies.<name>]` in `taxonomist.toml`. Every field is optional; a section with no
/// fields still declares the taxonomy.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomySection {
    /// Singular name.
    pub singular: Option<String>,
    /// Front-matter key (default: the plural name).
    pub key: Option<String>,
    /// At most this many terms.
    pub max: Option<usize>,
    /// Minimum final score.
    pub min_score: Option<f32>,
    /// Fallback term when nothing qualifies; `""` for none.
    pub fallback: Option<String>,
    /// `replace` or `merge`.
    pub mode: Option<Mode>,
    /// `false` to leave a Hugo taxonomy out of classification.
    pub classify: Option<bool>,
    /// When the taxonomy has no term pages at all, make implicit terms from the values
    /// listed on at least this many pages (default 3; 0 turns it off).
    pub implicit_min_uses: Option<usize>,
}

/// Everything loading needs, resolved from the Hugo config, `taxonomist.toml` and the
/// caller's options.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The site root.
    pub root: PathBuf,
    /// The Hugo config.
    pub hugo: HugoConfig,
    /// `taxonomist.toml`, when present.
    pub taxonomist: Option<TaxonomistToml>,
    /// The content dir, relative to the root.
    pub content_dir: PathBuf,
    /// Taxonomies to load, in order.
    pub taxonomies: Vec<Taxonomy>,
    /// Level thresholds.
    pub thresholds: Thresholds,
    /// Per taxonomy: minimum uses for implicit terms (see [`TaxonomySection`]).
    pub implicit_min_uses: BTreeMap<String, usize>,
}

/// Reads the site config under `root`. Missing config files are fine (Hugo defaults);
/// unreadable or invalid ones are errors naming the file, line and column.
pub fn read_config(root: &Path) -> Result<Config, Error> {
    read_config_with(root, None)
}

/// Like [`read_config`], with `taxonomist.toml` read from `taxonomist_toml` instead of the
/// site root (for sites you cannot or do not want to write into). A missing explicit file
/// is an error.
pub fn read_config_with(root: &Path, taxonomist_toml: Option<&Path>) -> Result<Config, Error> {
    let meta = std::fs::metadata(root).map_err(|e| Error::SiteDir {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(Error::SiteDir {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let hugo = read_hugo_config(root)?;
    let taxonomist = match taxonomist_toml {
        Some(p) => Some(read_taxonomist_file(p)?),
        None => read_taxonomist_toml(root)?,
    };
    Ok(resolve(root, hugo, taxonomist))
}

fn resolve(root: &Path, hugo: HugoConfig, taxonomist: Option<TaxonomistToml>) -> Config {
    let content_dir = taxonomist
        .as_ref()
        .and_then(|t| t.site.content_dir.clone())
        .or_else(|| hugo.content_dir.clone())
        .unwrap_or_else(|| "content".to_string());

    let mut taxonomies: Vec<Taxonomy> = match &hugo.taxonomies {
        Some(list) => list
            .iter()
            .map(|(s, p)| Taxonomy::new(p, Some(s)))
            .collect(),
        None => vec![
            Taxonomy::new("tags", Some("tag")),
            Taxonomy::new("categories", Some("category")),
        ],
    };
    let mut thresholds = Thresholds::default();
    let mut implicit_min_uses = BTreeMap::new();
    if let Some(t) = &taxonomist {
        if let Some(l) = t.levels {
            thresholds = l;
        }
        for (name, sec) in &t.taxonomies {
            let idx = match taxonomies.iter().position(|x| &x.name == name) {
                Some(i) => i,
                None => {
                    taxonomies.push(Taxonomy::new(name, sec.singular.as_deref()));
                    taxonomies.len() - 1
                }
            };
            if sec.classify == Some(false) {
                taxonomies.remove(idx);
                continue;
            }
            let tax = &mut taxonomies[idx];
            if let Some(s) = &sec.singular {
                tax.singular = Some(s.clone());
            }
            if let Some(k) = &sec.key {
                tax.key = k.clone();
            }
            apply_policy(&mut tax.policy, sec);
            if let Some(n) = sec.implicit_min_uses {
                implicit_min_uses.insert(name.clone(), n);
            }
        }
    }
    Config {
        root: root.to_path_buf(),
        hugo,
        taxonomist,
        content_dir: PathBuf::from(content_dir),
        taxonomies,
        thresholds,
        implicit_min_uses,
    }
}

fn apply_policy(p: &mut Policy, sec: &TaxonomySection) {
    if let Some(m) = sec.max {
        p.max = m;
    }
    if let Some(m) = sec.min_score {
        p.min_score = m;
    }
    if let Some(f) = &sec.fallback {
        p.fallback = if f.is_empty() { None } else { Some(f.clone()) };
    }
    if let Some(m) = sec.mode {
        p.mode = m;
    }
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Some(Format::Toml),
        Some("yaml") | Some("yml") => Some(Format::Yaml),
        Some("json") => Some(Format::Json),
        _ => None,
    }
}

fn read_value(root: &Path, path: &Path) -> Result<Map<String, Value>, Error> {
    let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        diagnostic: Diagnostic::error(&rel, format!("cannot read: {e}")),
    })?;
    let Some(format) = format_of(path) else {
        return Ok(Map::new());
    };
    taxonomist_frontmatter::parse_data(format, &text).map_err(|e| {
        let mut d = Diagnostic::error(&rel, e.message().to_string());
        if let (Some(l), Some(c)) = (e.line(), e.column()) {
            d = d.at(l, c);
        }
        Error::Config { diagnostic: d }
    })
}

/// Hugo keys are case-insensitive.
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn read_hugo_config(root: &Path) -> Result<HugoConfig, Error> {
    let mut merged = Map::new();
    let mut files = Vec::new();
    // A root config file: the first that exists, as Hugo does.
    if let Some(name) = ROOT_NAMES.iter().find(|n| root.join(n).is_file()) {
        let p = root.join(name);
        merged = read_value(root, &p)?;
        files.push(PathBuf::from(name));
    }
    // config/_default/: `hugo.*` / `config.*` are root maps; any other file is the value of
    // the key it is named after (`taxonomies.toml` holds the taxonomies map). Root-file
    // values win over the config dir, as in Hugo.
    let dir = root.join("config").join("_default");
    if dir.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| Error::Config {
                diagnostic: Diagnostic::error("config/_default", format!("cannot read: {e}")),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| format_of(p).is_some())
            .collect();
        entries.sort();
        for p in entries {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let value = read_value(root, &p)?;
            files.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
            if stem == "hugo" || stem == "config" {
                for (k, v) in value {
                    merged.entry(k).or_insert(v);
                }
            } else if get_ci(&merged, &stem).is_none() {
                merged.insert(stem, Value::Object(value));
            }
        }
    }

    let content_dir = get_ci(&merged, "contentDir")
        .and_then(Value::as_str)
        .map(str::to_string);
    let taxonomies = get_ci(&merged, "taxonomies")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(s, p)| p.as_str().map(|p| (s.clone(), p.to_string())))
                .collect::<Vec<_>>()
        });
    let ignore_files = get_ci(&merged, "ignoreFiles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let default_language = get_ci(&merged, "defaultContentLanguage")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    Ok(HugoConfig {
        files,
        content_dir,
        taxonomies,
        ignore_files,
        default_language,
    })
}

fn read_taxonomist_toml(root: &Path) -> Result<Option<TaxonomistToml>, Error> {
    let path = root.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Config {
                diagnostic: Diagnostic::error(CONFIG_FILE, format!("cannot read: {e}")),
            });
        }
    };
    parse_taxonomist_toml(&text).map(Some)
}

fn read_taxonomist_file(path: &Path) -> Result<TaxonomistToml, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        diagnostic: Diagnostic::error(path, format!("cannot read: {e}")),
    })?;
    parse_taxonomist_toml_at(&text, path)
}

/// Parses `taxonomist.toml` text (no I/O).
pub fn parse_taxonomist_toml(text: &str) -> Result<TaxonomistToml, Error> {
    parse_taxonomist_toml_at(text, Path::new(CONFIG_FILE))
}

fn parse_taxonomist_toml_at(text: &str, file: &Path) -> Result<TaxonomistToml, Error> {
    toml::from_str::<TaxonomistToml>(text).map_err(|e| {
        let mut d = Diagnostic::error(file, e.message().trim().to_string());
        if let Some(span) = e.span() {
            let (l, c) = line_col(text, span.start);
            d = d.at(l, c);
        }
        Error::Config { diagnostic: d }
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        dir
    }

    #[test]
    fn defaults_without_config() {
        let d = site(&[]);
        let c = read_config(d.path()).expect("config");
        assert_eq!(c.content_dir, PathBuf::from("content"));
        let names: Vec<_> = c.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tags", "categories"]);
    }

    #[test]
    fn yaml_config_with_taxonomies_and_content_dir() {
        let d = site(&[(
            "hugo.yaml",
            "contentDir: site-content\ntaxonomies:\n  category: categories\n  tag: tags\n  series: series\nignoreFiles: ['\\.Rmd$']\n",
        )]);
        let c = read_config(d.path()).expect("config");
        assert_eq!(c.content_dir, PathBuf::from("site-content"));
        let names: Vec<_> = c.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["categories", "tags", "series"]);
        assert_eq!(c.taxonomies[0].singular.as_deref(), Some("category"));
        assert_eq!(c.hugo.ignore_files, vec!["\\.Rmd$".to_string()]);
    }

    #[test]
    fn config_dir_files_name_their_key() {
        let d = site(&[
            (
                "config/_default/hugo.toml",
                "title = 'x'\ncontentdir = 'c'\n",
            ),
            (
                "config/_default/taxonomies.toml",
                "tag = 'tags'\ntopic = 'topics'\n",
            ),
        ]);
        let c = read_config(d.path()).expect("config");
        assert_eq!(c.content_dir, PathBuf::from("c"));
        let names: Vec<_> = c.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tags", "topics"]);
        assert_eq!(c.hugo.files.len(), 2);
    }

    #[test]
    fn hugo_toml_wins_over_config_toml() {
        let d = site(&[
            ("hugo.toml", "[taxonomies]\ntag = 'tags'\n"),
            ("config.toml", "[taxonomies]\nfoo = 'foos'\n"),
        ]);
        let c = read_config(d.path()).expect("config");
        assert_eq!(c.taxonomies.len(), 1);
        assert_eq!(c.hugo.files, vec![PathBuf::from("hugo.toml")]);
    }

    #[test]
    fn taxonomist_toml_adds_taxonomies_and_policy() {
        let d = site(&[
            (
                "hugo.toml",
                "[taxonomies]\ntag = 'tags'\ncategory = 'categories'\n",
            ),
            (
                "taxonomist.toml",
                "[levels]\nprimary = 85.0\n[taxonomies.concepts]\n[taxonomies.tags]\nmax = 5\nmode = 'merge'\n[taxonomies.categories]\nfallback = ''\n",
            ),
        ]);
        let c = read_config(d.path()).expect("config");
        let names: Vec<_> = c.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tags", "categories", "concepts"]);
        assert_eq!(c.taxonomies[0].policy.max, 5);
        assert_eq!(c.taxonomies[0].policy.mode, Mode::Merge);
        assert_eq!(c.taxonomies[1].policy.fallback, None);
        assert_eq!(c.taxonomies[2].policy.max, 1);
        assert_eq!(c.thresholds.primary, 85.0);
        assert_eq!(c.thresholds.secondary, 60.0);
    }

    #[test]
    fn classify_false_drops_a_hugo_taxonomy() {
        let d = site(&[
            (
                "hugo.toml",
                "[taxonomies]\ntag = 'tags'\nauthor = 'authors'\n",
            ),
            (
                "taxonomist.toml",
                "[taxonomies.authors]\nclassify = false\n",
            ),
        ]);
        let c = read_config(d.path()).expect("config");
        let names: Vec<_> = c.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tags"]);
    }

    #[test]
    fn bad_config_names_file_line_and_column() {
        let d = site(&[("hugo.toml", "title = 'x'\n[taxonomies\n")]);
        let Err(Error::Config { diagnostic }) = read_config(d.path()) else {
            panic!("expected a config error");
        };
        assert_eq!(diagnostic.file, PathBuf::from("hugo.toml"));
        assert_eq!(diagnostic.line, Some(2));

        let d = site(&[("taxonomist.toml", "[taxonomies.tags]\nmax = 'three'\n")]);
        let Err(Error::Config { diagnostic }) = read_config(d.path()) else {
            panic!("expected a config error");
        };
        assert_eq!(diagnostic.file, PathBuf::from("taxonomist.toml"));
        assert_eq!(diagnostic.line, Some(2));

        let d = site(&[("taxonomist.toml", "[sites]\n")]);
        assert!(matches!(read_config(d.path()), Err(Error::Config { .. })));
    }

    #[test]
    fn explicit_taxonomist_toml_elsewhere() {
        let d = site(&[("hugo.toml", "[taxonomies]\ntag = 'tags'\n")]);
        let other = site(&[("mine.toml", "[taxonomies.concepts]\n")]);
        let c = read_config_with(d.path(), Some(&other.path().join("mine.toml"))).expect("config");
        let names: Vec<_> = c.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tags", "concepts"]);
        let e = read_config_with(d.path(), Some(&other.path().join("missing.toml")));
        assert!(matches!(e, Err(Error::Config { .. })));
    }

    #[test]
    fn missing_site_dir_is_an_error() {
        let e = read_config(Path::new("/definitely/not/here")).expect_err("missing");
        assert!(matches!(e, Error::SiteDir { .. }));
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncdé\nx", 7), (2, 4));
        assert_eq!(line_col("ab\ncdé\nx", 8), (3, 1));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
