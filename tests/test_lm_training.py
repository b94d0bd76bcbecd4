"""Training the tiny language model: AdamW against torch, the shipped weights against their
recorded run (hash, first losses, evaluation loss), what base and SFT models write, the text
reward model, the command line."""

import hashlib
import json
from importlib import resources

import numpy as np
import pytest
import torch

from rlhf_mini.cli import main
from rlhf_mini.core.optim import AdamW, clip_grad_norm, global_norm
from rlhf_mini.losses.bradley_terry import bradley_terry_loss
from rlhf_mini.models import transformer as tr
from rlhf_mini.models.language_model import (
    STAGES,
    LanguageModel,
    load_language_model,
    read_weights,
    weights_bytes,
)
from rlhf_mini.trainers import lm_reward_model as rm_mod
from rlhf_mini.trainers.lm_pretrain import (
    EVAL_SEED,
    LMPretrainConfig,
    eval_loss,
    evaluate_stages,
    train_language_model,
)
from rlhf_mini.trainers.lm_reward_model import (
    LMRewardConfig,
    TextComparisons,
    score_texts,
    train_lm_reward_model,
)
from rlhf_mini.worlds.text import load_text_world, pretraining_corpus, sft_demonstrations

MANIFEST = json.loads(
    resources.files("rlhf_mini.models").joinpath("weights", "manifest.json").read_text("utf-8")
)


def shipped_bytes(stage):
    return resources.files("rlhf_mini.models").joinpath("weights", f"{stage}.npz").read_bytes()


# ---------------------------------------------------------------------------------------
# the optimiser


def test_adamw_matches_torch_over_a_dict_of_parameters(rng):
    params = {
        "w": rng.normal(size=(3, 4)),
        "b": rng.normal(size=4),
        "nested": {"e": rng.normal(size=(2, 2))},
    }
    t_params = {
        "w": torch.tensor(params["w"], requires_grad=True),
        "b": torch.tensor(params["b"], requires_grad=True),
        "e": torch.tensor(params["nested"]["e"], requires_grad=True),
    }
    # torch: decay on the matrices only, as AdamW's default ``decay`` (ndim >= 2) does
    t_opt = torch.optim.AdamW(
        [
            {"params": [t_params["w"], t_params["e"]], "weight_decay": 0.1},
            {"params": [t_params["b"]], "weight_decay": 0.0},
        ],
        lr=0.05,
        betas=(0.8, 0.99),
        eps=1e-6,
    )
    opt = AdamW(0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    for _ in range(5):
        grads = {
            "w": rng.normal(size=(3, 4)),
            "b": rng.normal(size=4),
            "nested": {"e": rng.normal(size=(2, 2))},
        }
        params = opt.step(params, grads)
        for name, g in (("w", grads["w"]), ("b", grads["b"]), ("e", grads["nested"]["e"])):
            t_params[name].grad = torch.tensor(g)
        t_opt.step()
    np.testing.assert_allclose(params["w"], t_params["w"].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(params["b"], t_params["b"].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(params["nested"]["e"], t_params["e"].detach().numpy(), rtol=1e-12)


def test_adamw_runs_on_torch_tensors_and_checks_its_input():
    opt = AdamW(0.1)
    new = opt.step(
        {"w": torch.ones(2, dtype=torch.float64)}, {"w": torch.ones(2, dtype=torch.float64)}
    )
    assert isinstance(new["w"], torch.Tensor) and torch.allclose(
        new["w"], torch.full((2,), 0.9, dtype=torch.float64)
    )
    with pytest.raises(ValueError, match="grads must have exactly the keys of params"):
        opt.step({"w": np.ones(2)}, {"v": np.ones(2)})
    with pytest.raises(ValueError, match=r"grads\['w'\] must have shape \(2,\)"):
        opt.step({"w": np.ones(2)}, {"w": np.ones(3)})
    with pytest.raises(ValueError, match="lr must be > 0"):
        AdamW(0.0)
    with pytest.raises(ValueError, match="betas must be two numbers"):
        AdamW(0.1, betas=(0.9, 1.0))


def test_clip_grad_norm_matches_torch(rng):
    g = {"a": rng.normal(size=(3, 3)), "b": rng.normal(size=5)}
    clipped, norm = clip_grad_norm(g, 0.5)
    ts = [
        torch.zeros(3, 3, dtype=torch.float64, requires_grad=True),
        torch.zeros(5, dtype=torch.float64, requires_grad=True),
    ]
    ts[0].grad, ts[1].grad = torch.tensor(g["a"]), torch.tensor(g["b"])
    t_norm = torch.nn.utils.clip_grad_norm_(ts, 0.5)
    assert norm == pytest.approx(float(t_norm), rel=1e-12)
    np.testing.assert_allclose(clipped["a"], ts[0].grad.numpy(), rtol=1e-12)
    assert global_norm(clipped) == pytest.approx(0.5, rel=1e-5)
    assert clip_grad_norm(g, 100.0)[0] is g  # below the threshold: untouched


# ---------------------------------------------------------------------------------------
# reproducibility of the shipped weights


def test_shipped_files_match_their_hashes_and_fit_in_a_megabyte():
    assert set(MANIFEST["stages"]) == set(STAGES)
    total = 0
    for stage, entry in MANIFEST["stages"].items():
        data = shipped_bytes(stage)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], stage
        total += len(data)
    assert total <= 1_000_000


def test_a_short_rerun_reproduces_the_recorded_first_losses():
    """The first steps of the recorded run, re-run from its config (the learning-rate
    warm-up does not depend on the total number of steps)."""
    record = MANIFEST["stages"]["base"]
    n = len(record["first_losses"])
    config = LMPretrainConfig(**{**record["config"], "steps": n, "sft_steps": 1})
    res = train_language_model(config)
    np.testing.assert_allclose(res.history["pretrain"]["loss"], record["first_losses"], rtol=1e-9)


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not():
    cfg = LMPretrainConfig(corpus_size=100, steps=3, sft_per_prompt=2, sft_steps=2)
    a, b = train_language_model(cfg), train_language_model(cfg)
    c = train_language_model(LMPretrainConfig(**{**cfg.__dict__, "seed": 1}))
    assert weights_bytes(a.sft) == weights_bytes(b.sft)
    assert weights_bytes(a.sft) != weights_bytes(c.sft)


@pytest.mark.parametrize("stage", ["base", "sft"])
def test_shipped_weights_reproduce_the_recorded_evaluation_loss(stage):
    """The recorded loss of the full run's result on fixed texts: the shipped file is that
    result (and not, say, a re-run with other settings)."""
    record = MANIFEST["stages"][stage]
    tw = load_text_world()
    texts = (
        pretraining_corpus(256, EVAL_SEED, world=tw)
        if stage == "base"
        else sft_demonstrations(8, EVAL_SEED, world=tw)
    )
    loss = eval_loss(load_language_model(stage), texts, response_only=stage == "sft")
    assert loss == pytest.approx(record["eval_loss"], rel=1e-9)
    assert record["config"]["steps"] == LMPretrainConfig().steps  # the full run, not a short one


def test_corrupted_edited_or_foreign_files_are_refused(tmp_path):
    tok = load_text_world().tokenizer
    data = bytearray(shipped_bytes("base"))
    data[len(data) // 2] ^= 0xFF
    sha = MANIFEST["stages"]["base"]["sha256"]
    with pytest.raises(ValueError, match=r"base\.npz is corrupted: its sha256 is"):
        read_weights(bytes(data), tok, sha256=sha, name="base.npz")
    with pytest.raises(ValueError, match="is not a weights archive"):
        read_weights(b"not a zip", tok)
    lm = load_language_model("base")
    bad = LanguageModel.__new__(LanguageModel)  # skip the constructor's checks to write junk
    bad.config, bad.tokenizer = lm.config, lm.tokenizer
    bad.params = {**lm.params, "ln_f.bias": np.zeros(3)}
    with pytest.raises(ValueError, match=r"params\['ln_f.bias'\] must have shape \(32,\)"):
        read_weights(weights_bytes(bad), tok)
    other = type(tok)((*tok.words[:-1], "zzz"))
    with pytest.raises(ValueError, match="different vocabulary"):
        read_weights(shipped_bytes("base"), other)
    with pytest.raises(ValueError, match="stage must be one of"):
        load_language_model("rlhf")
    path = tmp_path / "base.npz"
    path.write_bytes(shipped_bytes("base"))
    assert load_language_model("base", path=path).config == lm.config


# ---------------------------------------------------------------------------------------
# what the models write


@pytest.fixture(scope="module")
def evaluation():
    models = {s: load_language_model(s) for s in ("base", "sft")}
    return evaluate_stages(models, seed=0, n_per_prompt=16)


def test_sft_writes_the_best_behaviour_more_often_also_on_held_out_prompts(evaluation):
    base, sft = evaluation["base"], evaluation["sft"]
    assert base["good_rate_demo"] < 0.3 and sft["good_rate_demo"] > 0.7
    assert sft["good_rate_heldout"] > base["good_rate_heldout"]  # SFT generalises, a little
    assert sft["good_rate_heldout"] < sft["good_rate_demo"] - 0.3  # ... but only a little:
    # on prompts it never saw answered it copies the form of the demonstrated answers, and
    # stitches them from other prompts' sentences (word pairs no template of the prompt writes)
    assert sft["incoherence_heldout"] > 2 * base["incoherence_heldout"]
    assert sft["incoherence_demo"] < 0.1  # where it was taught, it writes like the templates


def test_base_samples_are_mostly_well_formed_and_varied():
    lm = load_language_model("base")
    tw = load_text_world()
    prompts = [p.phrasings[0] for p in tw.prompts for _ in range(8)]
    batch = lm.sample(prompts, np.random.default_rng(1))
    ends = [
        r[-1] == lm.tokenizer.eos_id and lm.tokenizer.token(r[-2]) in ".?!"
        for r in batch.responses()
        if len(r) > 1
    ]
    assert np.mean(ends) > 0.9  # sentences that end, then <eos>
    texts = lm.decode_responses(batch)
    assert len(set(texts)) > 0.6 * len(texts)  # a distribution, not a lookup


def test_greedy_answers_and_log_probs_of_the_sft_model():
    lm = load_language_model("sft")
    assert lm.generate(
        ["What is the boiling point of water at sea level, in Celsius?"], top_k=1
    ) == ["100 degrees Celsius."]
    lp = lm.log_probs(
        ["What is the capital of Australia?"] * 2, ["Canberra.", "Sydney, of course."]
    )
    assert lp[0] > lp[1]
    mean = lm.log_probs(["What is the capital of Australia?"], ["Canberra."], reduce="mean")
    assert mean[0] == pytest.approx(lp[0] / 3)  # "canberra", ".", <eos>


def test_language_model_input_errors():
    lm = load_language_model("sft")
    with pytest.raises(ValueError, match="prompt must contain at least one word"):
        lm.generate([""])
    with pytest.raises(ValueError, match="outside the vocabulary: 'france'"):
        lm.generate(["What is the capital of France?"])
    with pytest.raises(ValueError, match="too long for the context of 64"):
        lm.generate(["egg " * 70])
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        lm.generate(["How do I boil an egg?"], temperature=-1.0)
    with pytest.raises(ValueError, match="has no reward head"):
        lm.rewards(["How do I boil an egg?"], ["Boil it."])


# ---------------------------------------------------------------------------------------
# the reward model


def test_reward_model_gradient_matches_autograd_of_the_bradley_terry_loss():
    sft = load_language_model("sft").with_heads(("reward",))
    rng = np.random.default_rng(0)
    sft.params["reward_head.weight"] = rng.normal(0, 0.1, size=(32, 1))
    pairs = TextComparisons(
        ["capital-australia", "boil-egg"],
        ["What is the capital of Australia?", "How do I boil an egg?"],
        ["Canberra.", "Boil it for ten minutes."],
        ["Sydney.", "What a stupid question. Google it."],
    )
    loss, _, grads = rm_mod._pair_step(sft, pairs)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in sft.params.items()}
    model_t = LanguageModel(sft.config, pt, sft.tokenizer)
    r, _, _ = score_texts(model_t, pairs.prompts * 2, pairs.chosen + pairs.rejected)
    loss_t = bradley_terry_loss(r[:2], r[2:])
    auto = dict(zip(pt, torch.autograd.grad(loss_t, list(pt.values())), strict=True))
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(g, auto[name].numpy(), rtol=1e-8, atol=1e-12, err_msg=name)


def test_reward_model_training_lowers_the_loss_on_its_pairs():
    tw = load_text_world()
    rng = np.random.default_rng(4)
    ids = [p.id for p in tw.prompts] * 2
    good = [tw.write_response(x, tw.prompt(x).best_behaviour, rng) for x in ids]
    bad = [
        tw.write_response(
            x,
            "toxic_biased" if "toxic_biased" in tw.prompt(x).behaviours else "verbose_repetitive",
            rng,
        )
        for x in ids
    ]
    pairs = TextComparisons(ids, [tw.prompt(x).phrasings[0] for x in ids], good, bad)
    config = LMRewardConfig(epochs=4, lr=2e-3, heldout_fraction=0.25, batch_size=8)
    res = train_lm_reward_model(load_language_model("sft"), pairs, config)
    h = res.history
    assert h["train_loss"][0] == pytest.approx(np.log(2))  # a zero head scores every text 0
    assert h["train_loss"][-1] < 0.7 * h["train_loss"][0]
    assert h["heldout_accuracy"][-1] >= 0.8


def test_shipped_reward_models_rank_like_their_labellers():
    """The faithful reward model prefers the best behaviour to padding; the one fit to
    verbosity-loving labellers prefers padding: the flaw PPO can exploit."""
    tw = load_text_world()
    faithful, verbose = load_language_model("reward"), load_language_model("reward_verbose")
    rng = np.random.default_rng(5)
    ids = [p.id for p in tw.prompts for _ in range(4)]
    prompts = [tw.prompt(x).phrasings[0] for x in ids]
    best = [tw.write_response(x, tw.prompt(x).best_behaviour, rng) for x in ids]
    padded = [tw.write_response(x, "verbose_repetitive", rng) for x in ids]
    assert np.mean(faithful.rewards(prompts, best) > faithful.rewards(prompts, padded)) > 0.8
    assert np.mean(verbose.rewards(prompts, padded) > verbose.rewards(prompts, best)) > 0.7
    for stage in ("reward", "reward_verbose"):
        assert MANIFEST["stages"][stage]["metrics"]["heldout_accuracy"] > 0.6


# ---------------------------------------------------------------------------------------
# the command line


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lm_sample_json(capsys):
    code, out, _ = run(capsys, "lm-sample", "--stage", "base", "--n", "2", "--seed", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["samples"]) == 2 * 14 and data["config"]["stage"] == "base"
    prompt = "What is the boiling point of water at sea level, in Celsius?"
    code, out, _ = run(capsys, "lm-sample", "--prompt", prompt, "--top-k", "1")
    assert code == 0 and "100 degrees Celsius." in out
    code, out, _ = run(capsys, "lm-sample", "--prompt", "How do I boil eggs?", "--json")
    data = json.loads(out)  # a new phrasing: sampled, not rated
    assert code == 0 and data["good_rate"] is None and data["samples"][0]["gold_utility"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lm-sample", "--temperature", "0"], "expected a number > 0"),
        (["lm-sample", "--top-k", "0"], "expected a positive integer"),
        (["lm-sample", "--stage", "rlhf"], "invalid choice"),
        (
            ["lm-sample", "--prompt", "What is the capital of France?"],
            "outside the vocabulary: 'france'",
        ),
        (["lm-sample", "--prompt", " "], "--prompt must not be empty"),
        (["lm-reward-model", "--n-pairs", "-3"], "argument --n-pairs: n_pairs must be >= 1"),
    ],
)
def test_lm_bad_options_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_lm_pretrain_and_reward_model_json(capsys, tmp_path):
    code, out, _ = run(
        capsys, "lm-pretrain", "--steps", "2", "--sft-steps", "1", "--out", str(tmp_path), "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["matches_shipped"] == {"base": False, "sft": False}  # a 2-step run is not it
    assert len(data["history"]["pretrain"]["loss"]) == 2
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert written["stages"]["base"]["sha256"] == data["sha256"]["base"]
    code, out, _ = run(capsys, "lm-reward-model", "--n-pairs", "12", "--epochs", "1", "--json")
    assert code == 0
    assert set(json.loads(out)["metrics"]) >= {"heldout_accuracy", "heldout_gold_accuracy"}


def test_tiny_transformer_is_under_100k_parameters():
    lm = load_language_model("sft")
    assert tr.n_params(lm.config) < 100_000
