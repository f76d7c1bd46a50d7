//! The built-in offline roadmap generator: a curated content catalog shipped inside the
//! binary (`content/catalog/*.json`), so `cargo run` generates real roadmaps with no
//! key and no network. A goal is matched to the closest subject by its words; goals
//! that match nothing get the general "learn any skill" roadmap.

use std::collections::HashSet;

use async_trait::async_trait;
use serde::Deserialize;

use questpath_actors::domain::roadmap::{Difficulty, GeneratedLevel, GeneratedRoadmap};
use questpath_actors::ports::{GenerateError, RoadmapGenerator};

#[derive(rust_embed::Embed)]
#[folder = "content/catalog/"]
struct CatalogFiles;

/// Slug of the fallback subject.
pub const GENERAL: &str = "general";

/// One subject of the catalog, as written in its JSON file.
#[derive(Debug, Clone, Deserialize)]
pub struct Subject {
    pub slug: String,
    pub title: String,
    pub category: String,
    pub difficulty: Difficulty,
    pub keywords: Vec<String>,
    pub roadmap_name: String,
    pub levels: Vec<GeneratedLevel>,
}

impl Subject {
    fn roadmap(&self, title: String) -> GeneratedRoadmap {
        GeneratedRoadmap {
            title,
            category: self.category.clone(),
            difficulty: self.difficulty,
            roadmap_name: self.roadmap_name.clone(),
            levels: self.levels.clone(),
        }
    }
}

/// The catalog shipped in this binary, loaded on first use and kept: rooms played from
/// a catalog level and `GET /api/v1/catalog` read it whatever generator is configured.
pub fn shared() -> Result<&'static CatalogGenerator, &'static CatalogError> {
    static SHARED: std::sync::LazyLock<Result<CatalogGenerator, CatalogError>> =
        std::sync::LazyLock::new(CatalogGenerator::load);
    SHARED.as_ref()
}

/// The catalog generator.
pub struct CatalogGenerator {
    subjects: Vec<Subject>,
}

/// A catalog file that cannot be used; a build with one is broken.
#[derive(Debug, thiserror::Error)]
#[error("catalog file {file}: {problem}")]
pub struct CatalogError {
    pub file: String,
    pub problem: String,
}

impl CatalogGenerator {
    /// Loads and validates every subject; fails if any file is broken or the general
    /// fallback is missing.
    pub fn load() -> Result<Self, CatalogError> {
        let mut subjects = Vec::new();
        let mut files: Vec<_> = CatalogFiles::iter()
            .filter(|f| f.ends_with(".json"))
            .collect();
        files.sort();
        for file in files {
            let bad = |problem: String| CatalogError {
                file: file.to_string(),
                problem,
            };
            let content = CatalogFiles::get(&file).ok_or_else(|| bad("missing".into()))?;
            let subject: Subject =
                serde_json::from_slice(&content.data).map_err(|e| bad(e.to_string()))?;
            subject
                .roadmap(subject.title.clone())
                .validate()
                .map_err(bad)?;
            if format!("{}.json", subject.slug) != file.as_ref() {
                return Err(bad(format!(
                    "slug {:?} does not match the file name",
                    subject.slug
                )));
            }
            subjects.push(subject);
        }
        if !subjects.iter().any(|s| s.slug == GENERAL) {
            return Err(CatalogError {
                file: format!("{GENERAL}.json"),
                problem: "the general fallback subject is missing".into(),
            });
        }
        Ok(CatalogGenerator { subjects })
    }

    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// The subject closest to the goal: the most keyword hits (a phrase keyword counts
    /// when it appears in the text, a single word when one of the goal's words equals it
    /// or is its plural); the general subject when nothing matches.
    pub fn best_match(&self, goal: &str) -> &Subject {
        let text = normalise(goal);
        let words: HashSet<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        let hits = |subject: &Subject| -> usize {
            subject
                .keywords
                .iter()
                .map(|k| normalise(k))
                .filter(|k| {
                    if k.contains(' ') {
                        text.contains(k.as_str())
                    } else {
                        words.contains(k.as_str())
                            || words.contains(format!("{k}s").as_str())
                            || words.contains(format!("{k}es").as_str())
                    }
                })
                .count()
        };
        let general = self.subjects.iter().find(|s| s.slug == GENERAL);
        let best = self
            .subjects
            .iter()
            .filter(|s| s.slug != GENERAL)
            .map(|s| (hits(s), s))
            .filter(|(n, _)| *n > 0)
            // Most hits; on a tie the first subject in name order.
            .max_by(|(a, sa), (b, sb)| a.cmp(b).then_with(|| sb.slug.cmp(&sa.slug)))
            .map(|(_, s)| s);
        match (best, general) {
            (Some(subject), _) | (None, Some(subject)) => subject,
            // `load` guarantees the general subject; keep a total function anyway.
            (None, None) => &self.subjects[0],
        }
    }
}

/// Lower case, letters and digits only, single spaces (so "Node.js!" matches "node js").
fn normalise(text: &str) -> String {
    let mapped: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '+' || c == '#' {
                c
            } else {
                ' '
            }
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A title for a goal on the general roadmap: the learner's own words, tidied.
fn general_title(goal: &str) -> String {
    let goal = goal.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut title: String = goal.chars().take(80).collect();
    if goal.chars().count() > 80 {
        if let Some(cut) = title.rfind(' ') {
            title.truncate(cut);
        }
        title.push('…');
    }
    let mut chars = title.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "My learning goal".into(),
    }
}

#[async_trait]
impl RoadmapGenerator for CatalogGenerator {
    fn name(&self) -> &'static str {
        "catalog"
    }

    async fn generate(&self, goal: &str) -> Result<GeneratedRoadmap, GenerateError> {
        let subject = self.best_match(goal);
        let title = if subject.slug == GENERAL {
            general_title(goal)
        } else {
            subject.title.clone()
        };
        let roadmap = subject.roadmap(title);
        roadmap.validate().map_err(GenerateError::Invalid)?;
        Ok(roadmap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> CatalogGenerator {
        CatalogGenerator::load().expect("every shipped catalog file is valid")
    }

    #[test]
    fn every_shipped_subject_is_valid_and_rich_enough() {
        let catalog = catalog();
        let slugs: Vec<&str> = catalog.subjects().iter().map(|s| s.slug.as_str()).collect();
        for expected in [
            "general",
            "machine-learning",
            "mobile-apps",
            "python",
            "typescript",
            "ui-ux-design",
            "web-development",
        ] {
            assert!(slugs.contains(&expected), "missing subject {expected}");
        }
        for subject in catalog.subjects() {
            for level in &subject.levels {
                assert!(
                    level.questions.len() >= 10,
                    "{} / {}",
                    subject.slug,
                    level.title
                );
            }
        }
    }

    #[test]
    fn the_old_frontends_example_goals_find_their_subject() {
        let catalog = catalog();
        let cases = [
            ("Learn web development", "web-development"),
            ("Master Python", "python"),
            ("UI/UX design", "ui-ux-design"),
            ("Machine learning", "machine-learning"),
            ("Mobile app development", "mobile-apps"),
            ("Master TypeScript", "typescript"),
            (
                "I want to build websites with HTML and CSS",
                "web-development",
            ),
        ];
        for (goal, slug) in cases {
            assert_eq!(catalog.best_match(goal).slug, slug, "{goal}");
        }
    }

    #[test]
    fn unmatched_goals_get_the_general_roadmap_titled_by_the_learner() {
        let catalog = catalog();
        assert_eq!(catalog.best_match("Get better at juggling").slug, GENERAL);
        assert_eq!(
            general_title("  get   better at juggling "),
            "Get better at juggling"
        );
        let long = "word ".repeat(40);
        assert!(general_title(&long).chars().count() <= 81);
    }

    #[tokio::test]
    async fn generated_roadmaps_pass_validation() {
        let roadmap = catalog().generate("learn to draw portraits").await.unwrap();
        assert_eq!(roadmap.validate(), Ok(()));
        assert_eq!(roadmap.title, "Learn to draw portraits");
    }
}
