//! The models a build can load, and the set a server has loaded: requests choose among them by
//! name, and one is the default.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::{Cost, Learned, ModelCard, Scores, SentimentModel, Vader};

/// The names of the models compiled into this build, in the order `GET /models` lists them.
#[cfg(not(feature = "encoder"))]
pub const COMPILED: &[&str] = &["vader", "tfidf"];
/// The names of the models compiled into this build, in the order `GET /models` lists them.
#[cfg(feature = "encoder")]
pub const COMPILED: &[&str] = &["vader", "tfidf", "minilm"];

/// Why the models could not be loaded; its `Display` is one line naming the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A name no model of this build has.
    #[error("MODELS: unknown model {name:?}; this build has {}", list(COMPILED))]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// `DEFAULT_MODEL` names a model that is not loaded.
    #[error("DEFAULT_MODEL: {name:?} is not among the models loaded ({loaded})")]
    DefaultNotLoaded {
        /// The default asked for.
        name: String,
        /// The models loaded.
        loaded: String,
    },
    /// No model at all.
    #[error("MODELS: no model to load")]
    Empty,
    /// An encoder model named without `MODEL_DIR`.
    #[error("MODELS: {name} needs MODEL_DIR, the directory of its files (scripts/encoder/fetch_model.py)")]
    NoModelDir {
        /// The model.
        name: String,
    },
    /// The encoder's files could not be loaded.
    #[error("MODEL_DIR: {0}")]
    ModelDir(String),
}

fn list(names: &[&str]) -> String {
    names.join(", ")
}

/// Loads the model called `name`; an encoder's files come from `model_dir`.
fn load(name: &str, model_dir: Option<&Path>) -> Result<Arc<dyn SentimentModel>, LoadError> {
    #[cfg(feature = "encoder")]
    if name == "minilm" {
        let dir = model_dir.ok_or_else(|| LoadError::NoModelDir {
            name: name.to_owned(),
        })?;
        let encoder = super::Encoder::load(dir).map_err(|e| LoadError::ModelDir(e.to_string()))?;
        return Ok(Arc::new(encoder));
    }
    let _ = model_dir;
    match name {
        "vader" => Ok(Arc::new(Vader::new())),
        // About 12 MB of tables: built on first use, so a server that never scores with it keeps
        // its small idle footprint.
        Learned::NAME => Ok(Arc::new(OnFirstUse::new(
            Learned::NAME,
            Learned::CARD,
            Learned::new,
        ))),
        _ => Err(LoadError::Unknown {
            name: name.to_owned(),
        }),
    }
}

/// A model built the first time it scores a text (the others wait for it, once).
struct OnFirstUse<M> {
    name: &'static str,
    card: ModelCard,
    build: fn() -> M,
    model: OnceLock<M>,
}

impl<M> OnFirstUse<M> {
    fn new(name: &'static str, card: ModelCard, build: fn() -> M) -> Self {
        OnFirstUse {
            name,
            card,
            build,
            model: OnceLock::new(),
        }
    }
}

impl<M: SentimentModel> SentimentModel for OnFirstUse<M> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn card(&self) -> ModelCard {
        self.card
    }

    /// Heavy until built: the first use, which builds it, runs on the blocking pool.
    fn cost(&self) -> Cost {
        self.model.get().map_or(Cost::Heavy, SentimentModel::cost)
    }

    fn score(&self, text: &str) -> Scores {
        self.model
            .get_or_init(|| {
                let started = std::time::Instant::now();
                let model = (self.build)();
                log::info!(
                    "model {} loaded on first use in {} ms",
                    self.name,
                    started.elapsed().as_millis()
                );
                model
            })
            .score(text)
    }
}

/// A model of a [`Models`] set, by position: a request carries this, not a reference count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelId(u8);

/// The models a server has loaded, and its default; built once at start and shared.
#[derive(Clone)]
pub struct Models {
    loaded: Vec<Arc<dyn SentimentModel>>,
    default: ModelId,
}

impl Models {
    /// Loads the models called `names`, with `default` as the one a request that names none gets.
    /// Without names: every model compiled in whose files are at hand (an encoder only with
    /// `model_dir`).
    pub fn load(
        names: Option<&[String]>,
        default: &str,
        model_dir: Option<&Path>,
    ) -> Result<Self, LoadError> {
        let names: Vec<&str> = match names {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => COMPILED
                .iter()
                .copied()
                .filter(|name| *name != "minilm" || model_dir.is_some())
                .collect(),
        };
        let mut loaded = Vec::new();
        for name in names {
            if !loaded
                .iter()
                .any(|m: &Arc<dyn SentimentModel>| m.name() == name)
            {
                loaded.push(load(name, model_dir)?);
            }
        }
        Self::new(loaded, default)
    }

    /// A set of models already built, with the one called `default` as the default.
    pub fn new(loaded: Vec<Arc<dyn SentimentModel>>, default: &str) -> Result<Self, LoadError> {
        if loaded.is_empty() {
            return Err(LoadError::Empty);
        }
        let at = loaded
            .iter()
            .position(|m| m.name() == default)
            .ok_or_else(|| LoadError::DefaultNotLoaded {
                name: default.to_owned(),
                loaded: loaded
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let at = u8::try_from(at).map_err(|_| LoadError::Empty)?;
        Ok(Models {
            loaded,
            default: ModelId(at),
        })
    }

    /// One model, which is the default (tests, embedders).
    pub fn single(model: Arc<dyn SentimentModel>) -> Self {
        Models {
            loaded: vec![model],
            default: ModelId(0),
        }
    }

    /// The model a request gets when it names none.
    pub fn default_id(&self) -> ModelId {
        self.default
    }

    /// The loaded model called `name`.
    pub fn find(&self, name: &str) -> Option<ModelId> {
        self.loaded
            .iter()
            .position(|m| m.name() == name)
            .map(|at| ModelId(at as u8))
    }

    /// The model `id` names. `id` comes from this set, so it is always there.
    pub fn get(&self, id: ModelId) -> &dyn SentimentModel {
        &*self.loaded[usize::from(id.0)]
    }

    /// Every loaded model, in load order, with whether it is the default.
    pub fn iter(&self) -> impl Iterator<Item = (&dyn SentimentModel, bool)> {
        self.loaded
            .iter()
            .enumerate()
            .map(|(at, m)| (&**m, at == usize::from(self.default.0)))
    }

    /// The loaded models' names, in load order.
    pub fn names(&self) -> Vec<&'static str> {
        self.loaded.iter().map(|m| m.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_model_loads_and_the_default_is_found_by_name() {
        let models = Models::load(None, "vader", None).unwrap();
        let without_files: Vec<&str> = COMPILED
            .iter()
            .copied()
            .filter(|n| *n != "minilm")
            .collect();
        assert_eq!(models.names(), without_files);
        for (model, _) in models.iter() {
            let scores = model.score("What a wonderful, lovely day!");
            assert!(scores.compound > 0.05, "{}: {scores:?}", model.name());
        }
        let id = models.find("vader").unwrap();
        assert_eq!(models.default_id(), id);
        assert_eq!(models.get(id).name(), "vader");
        assert!(models.find("nope").is_none());
    }

    #[test]
    fn unknown_names_and_a_default_not_loaded_name_their_setting() {
        let err = Models::load(Some(&["vader".into(), "gpt".into()]), "vader", None)
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("MODELS: unknown model \"gpt\""),
            "{err}"
        );
        let err = Models::load(Some(&["vader".into()]), "other", None)
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("DEFAULT_MODEL: "), "{err}");
    }

    #[test]
    fn a_name_given_twice_is_loaded_once() {
        let models = Models::load(Some(&["vader".into(), "vader".into()]), "vader", None).unwrap();
        assert_eq!(models.names(), ["vader"]);
    }
}
