//! The shape of the code, checked: the folder tree is the architecture only
//! if the rules that make it readable hold.
//!
//! - No module of the library imports in a circle. Every `crate::`,
//!   `super::` and `self::` path in the production code of `src/` (not
//!   `#[cfg(test)]` items, not `main.rs`) is resolved to the module it
//!   names; the modules that reach each other form the graph, and any
//!   strongly connected component of more than one module is a cycle.
//! - No file under `src/actors/` names another actor's file: actors reach
//!   each other through `actors::messages` and handles given at start.
//! - No source file of `src/`, `load/src/` or `web/` (tests and fixtures
//!   aside) is longer than 400 lines.
//!
//! The parser is `syn`, so grouped imports and paths in expressions count
//! as much as `use` lines do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module path such as `crate::actors::hub`, as its segments.
type Module = Vec<String>;

/// Every `.rs` file under `dir`, with the module it defines.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut segs: Module = vec!["crate".into()];
            for part in rel.with_extension("").iter() {
                segs.push(part.to_string_lossy().into_owned());
            }
            match segs.last().map(String::as_str) {
                Some("main") if segs.len() == 2 => continue,
                Some("lib") if segs.len() == 2 => {
                    segs.pop();
                }
                Some("mod") => {
                    segs.pop();
                }
                _ => {}
            }
            out.insert(segs, path);
        }
    }
    out
}

/// True for items compiled only in tests.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The paths a file names, raw (segments as written).
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.0.push(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.0.push(full);
            }
            syn::UseTree::Glob(_) => self.0.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        if let syn::Item::Use(u) = item {
            self.use_tree(&mut Vec::new(), &u.tree);
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.0
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }
}

/// The module of `known` that a path written in module `from` names, if it
/// is one of the crate's.
fn resolve(from: &Module, path: &[String], known: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let mut abs: Module = match path.first().map(String::as_str)? {
        "crate" => vec!["crate".into()],
        "self" => from.clone(),
        "super" => {
            let mut m = from.clone();
            m.pop();
            m
        }
        first => {
            // A child module of `from` named without a prefix.
            let mut child = from.clone();
            child.push(first.to_owned());
            if !known.contains_key(&child) {
                return None;
            }
            from.clone()
        }
    };
    let mut rest = &path[1..];
    if path[0] != "crate" && path[0] != "self" && path[0] != "super" {
        rest = path;
    }
    for seg in rest {
        if seg == "super" {
            abs.pop();
        } else if seg != "self" {
            abs.push(seg.clone());
        }
    }
    // The longest prefix that is a module.
    while !abs.is_empty() && !known.contains_key(&abs) {
        abs.pop();
    }
    (!abs.is_empty()).then_some(abs)
}

/// Module → the modules it names.
fn graph(files: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let known: BTreeMap<Module, PathBuf> =
        files.keys().map(|m| (m.clone(), PathBuf::new())).collect();
    let mut edges = BTreeMap::new();
    for (module, source) in files {
        let file = syn::parse_file(source).unwrap_or_else(|e| panic!("{module:?}: {e}"));
        let mut paths = Paths::default();
        paths.visit_file(&file);
        let targets: BTreeSet<Module> = paths
            .0
            .iter()
            .filter_map(|p| resolve(module, p, &known))
            .filter(|t| t != module)
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        next: usize,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let Some((w, _)) = s.edges.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn library_sources() -> BTreeMap<Module, String> {
    modules(&root().join("src"))
        .into_iter()
        .map(|(m, p)| (m, std::fs::read_to_string(p).unwrap()))
        .collect()
}

fn name(m: &Module) -> String {
    m.join("::")
}

#[test]
fn no_module_imports_in_a_circle() {
    let edges = graph(&library_sources());
    let found = cycles(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(" <-> "))
        .collect();
    assert!(found.is_empty(), "module cycles:\n{}", shown.join("\n"));
}

#[test]
fn no_actor_file_names_another_actor() {
    let sources = library_sources();
    let edges = graph(&sources);
    let actor = |m: &Module| m.len() == 3 && m[1] == "actors" && m[2] != "messages";
    let mut offences = Vec::new();
    for (from, targets) in &edges {
        if !actor(from) {
            continue;
        }
        for to in targets.iter().filter(|t| actor(t)) {
            offences.push(format!("{} -> {}", name(from), name(to)));
        }
    }
    assert!(
        offences.is_empty(),
        "actors naming actors:\n{}",
        offences.join("\n")
    );
}

#[test]
fn no_source_file_is_over_400_lines() {
    let mut long = Vec::new();
    let mut check = |dir: PathBuf, exts: &[&str], skip: &[&str]| {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(root())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if skip.iter().any(|s| rel.contains(s)) {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| exts.iter().any(|x| e == *x))
                {
                    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                    if lines > 400 {
                        long.push(format!("{rel}: {lines} lines"));
                    }
                }
            }
        }
    };
    check(root().join("src"), &["rs"], &[]);
    check(root().join("load/src"), &["rs"], &[]);
    check(
        root().join("web"),
        &["js", "mjs", "jsx", "ts", "tsx", "css", "html"],
        &[
            "node_modules",
            "web/test",
            "web/e2e",
            "web/types-test",
            ".d.ts",
        ],
    );
    long.sort();
    assert!(long.is_empty(), "over 400 lines:\n{}", long.join("\n"));
}

/// Every file `docs/architecture.md` names exists, and every "Where is…"
/// row names exactly one.
#[test]
fn the_architecture_document_names_real_files() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let mut missing = Vec::new();
    for path in doc.split('`').skip(1).step_by(2) {
        let looks_like_file = path.ends_with(".rs") || path.ends_with(".md");
        if looks_like_file && !path.contains(' ') && !root().join(path).exists() {
            missing.push(path.to_owned());
        }
    }
    assert!(missing.is_empty(), "named but missing: {missing:?}");
    let table = doc
        .split("## Where is")
        .nth(1)
        .expect("a Where is table")
        .split("\n## ")
        .next()
        .unwrap();
    for row in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| behaviour"))
    {
        let files = row.matches(".rs`").count();
        assert_eq!(files, 1, "a row must name one file: {row}");
    }
}

/// The checker itself finds a cycle when there is one, through `use`
/// groups, `super::` and paths in expressions alike.
#[test]
fn the_checker_sees_a_cycle() {
    let files: BTreeMap<Module, String> = [
        (vec!["crate"], "pub mod a; pub mod b; pub mod c;"),
        (vec!["crate", "a"], "use crate::{b::{Thing}};"),
        (
            vec!["crate", "b"],
            "pub struct Thing; fn f() { super::c::g(); }",
        ),
        (
            vec!["crate", "c"],
            "pub fn g() { let _ = crate::a::X; } #[cfg(test)] mod t { use crate::b::Thing; }",
        ),
    ]
    .into_iter()
    .map(|(m, s)| (m.into_iter().map(String::from).collect(), s.to_owned()))
    .collect();
    let found = cycles(&graph(&files));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].len(), 3);
    // Without c -> a the graph is acyclic; the test-only edge does not count.
    let mut acyclic = files.clone();
    acyclic.insert(
        vec!["crate".into(), "c".into()],
        "pub fn g() {} #[cfg(test)] mod t { use crate::a::X; }".into(),
    );
    assert!(cycles(&graph(&acyclic)).is_empty());
}
