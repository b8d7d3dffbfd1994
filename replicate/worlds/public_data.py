"""Public data files: read from ``$REPLICATE_DATA_DIR``, else a user cache, else downloaded upstream.

Every file the evaluation replications read is named by its path relative to the shared data bundle
(``alpaca_eval/...``, ``wildbench/...``, ``cheating_null_models/...``; the layout of ``../shared/data``,
each folder documented by its README). :func:`data_path` resolves such a path:

1. ``$REPLICATE_DATA_DIR/<relpath>`` if it exists (``.ci/run`` and the Makefile point the variable at
   ``../shared/data``); the file is used as is.
2. ``<cache>/<relpath>`` if it exists and its sha256 matches the registry below; the cache is
   ``$REPLICATE_DATA_CACHE`` or ``~/.cache/replicate/data``.
3. For a file that is a verbatim copy of an upstream file: download it from
   ``raw.githubusercontent.com/<repo>/<commit>/<path>`` at the pinned commit, check its sha256 and
   size, and store it in the cache (atomically: a partial download never looks finished).
   ``REPLICATE_OFFLINE=1`` forbids this step.

Otherwise :class:`DataFileNotFound` (a ``FileNotFoundError``) says which file is missing, where it
was looked for, and how to get it. Some files of the bundle are *derived* (slimmed annotation tables,
an estimated instruction difficulty, a length matrix, artifacts decoded from pickles): they have no
upstream file to download, and the error says how they were produced instead of inventing a URL.

The checksums were computed from the shared bundle. Three AlpacaEval leaderboard CSVs in it are
byte-identical to the copies shipped in the ``alpaca-eval==0.6.6`` wheel, which supports that the
files marked upstream are verbatim; a file that is not would fail the check with a clear error rather
than be used silently.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from ..core.io import file_sha256

ENV_DIR = "REPLICATE_DATA_DIR"
ENV_CACHE = "REPLICATE_DATA_CACHE"
ENV_OFFLINE = "REPLICATE_OFFLINE"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class DataFileNotFound(FileNotFoundError):
    """A public data file is neither in $REPLICATE_DATA_DIR nor in the cache and cannot be downloaded."""


class DataChecksumError(OSError):
    """A downloaded or cached file does not have the registered sha256 (it is never used)."""


class _F(NamedTuple):
    sha256: str
    size: int
    repo: str | None = None
    commit: str | None = None
    path: str | None = None

    @property
    def url(self) -> str | None:
        if self.repo is None:
            return None
        return RAW_URL.format(repo=self.repo, commit=self.commit, path=self.path)


# relpath -> (sha256, size[, upstream repo, pinned commit, path in that repo]); no repo = derived file.
FILES: dict[str, _F] = {
    "README.md": _F("5e62481bc4346fa145a9e3a2fb0881e7c219102c8f544c60f13512f9ca9291de", 1029),
    "alpaca_eval/NullModel__weighted_alpaca_eval_gpt4_turbo__annotations.json": _F(
        "d8e6d6d8ad735b57149fe0d9cb307e095cdc8befee5f0a849e00d66912500be3",
        4161515,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "results/NullModel/weighted_alpaca_eval_gpt4_turbo/annotations.json",
    ),
    "alpaca_eval/README.md": _F("05e7f7192f5d80cb4adc1985285ca14a9facd98dd524e8717900291b37600ac4", 7843),
    "alpaca_eval/annotations_weighted_alpaca_eval_gpt4_turbo__slim__48models.csv.gz": _F(
        "cdea015fbfd2221eeb70d7c13339feaf3a8a194d44f0ee7a72df29bf0525fc7e", 1224209
    ),
    "alpaca_eval/benchmarks_arena_elo_and_other_benchmarks.csv": _F(
        "ed599373eadbb343bbe80f677a513305c21ef5d110c5d81dfbb94a098e51ac75",
        6364,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "notebooks/benchmarks.csv",
    ),
    "alpaca_eval/derived__instruction_difficulty_recovered_ridge0.15.csv": _F(
        "763a03e454a579288f03813b533b705cf57c4836f83569a16631d1040c456b3a", 18880
    ),
    "alpaca_eval/eval_set_805_with_gpt4_1106_preview_baseline_outputs.json": _F(
        "70abdaef0f56b9abe016a75776eaa8c11dd125a22a166476b60ff2a36404228e", 1916411
    ),
    "alpaca_eval/glm_weights__claude_3_opus_ranking__length_controlled_v1__baseline_gpt4_1106_preview__HEAD.csv": _F(
        "05db7e53bcf606a8c2ef7e27bfa6a3586e3c3ddf29d8a8aeefdb2dc283907470",
        531,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/metrics/weights/claude_3_opus_ranking/length_controlled_v1/baseline_gpt4_1106_preview.csv",
    ),
    "alpaca_eval/glm_weights__mistral-large-2402_ranking__length_controlled_v1__baseline_gpt4_1106_preview__HEAD.csv": _F(
        "c97bd20ba03ecd807944d7f5fc07316f00b929351e684a3270eba0a136246d9d",
        531,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/metrics/weights/mistral-large-2402_ranking/length_controlled_v1/baseline_gpt4_1106_preview.csv",
    ),
    "alpaca_eval/glm_weights__weighted_alpaca_eval_gpt4_turbo__length_controlled_v1__baseline_gpt4_1106_preview__2024-03-19_241e1f6.csv": _F(
        "6c0a2d61ac68bcd3bd7d945f5450b25e5d3b508ab33aecaaebcf08e37de15f6c",
        10447,
        "tatsu-lab/alpaca_eval",
        "241e1f607b7ad8416b764b7eedd0db4ed2da1b93",
        "src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv",
    ),
    "alpaca_eval/glm_weights__weighted_alpaca_eval_gpt4_turbo__length_controlled_v1__baseline_gpt4_1106_preview__HEAD.csv": _F(
        "3bd6d5a46327020f1b3eea79ac62d537f89a953d44ab0a6da83c954e36a23254",
        15758,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv",
    ),
    "alpaca_eval/inventory.json": _F("4ed97db52d9eb24f1250eb82dcb3a66f1f453253926024ccd6e26d19852c24c4", 11745),
    "alpaca_eval/model_output_char_lengths__wide.csv.gz": _F(
        "d1d58422cc3795bf8c93b90c218709a73db91e8eae5aa2cd9b5d77fd30e79896", 354629
    ),
    "alpaca_eval/leaderboards/AE1_alpaca_eval_gpt4_leaderboard__HEAD.csv": _F(
        "9a86bb8cd16967ab94796ca6e52b63a14ceb59c953194ec064edfe690fb82ed6",
        10033,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/leaderboards/data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv",
    ),
    "alpaca_eval/leaderboards/AE2_alpaca_eval_cot_gpt4_turbo_fn_leaderboard__HEAD.csv": _F(
        "ebb9492f5650edb0ee8f0bb6ab0491e1373dbdf9bd27887c9ba9c4fa177754d5",
        1307,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/leaderboards/data_AlpacaEval_2/alpaca_eval_cot_gpt4_turbo_fn_leaderboard.csv",
    ),
    "alpaca_eval/leaderboards/AE2_alpaca_eval_gpt4_turbo_fn_leaderboard__HEAD.csv": _F(
        "a2c393aae1652e883a75eb3ca2a9838c726ce9c3b55385f0748015f0fbf7675d",
        1027,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/leaderboards/data_AlpacaEval_2/alpaca_eval_gpt4_turbo_fn_leaderboard.csv",
    ),
    "alpaca_eval/leaderboards/AE2_claude_3_opus_ranking_leaderboard__HEAD.csv": _F(
        "1a50d5ab466efad5e8b76a8625b92943ce5271d4776b224401c0ce360b1dcec8",
        766,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/leaderboards/data_AlpacaEval_2/claude_3_opus_ranking_leaderboard.csv",
    ),
    "alpaca_eval/leaderboards/AE2_mistral-large-2402_ranking_leaderboard__HEAD.csv": _F(
        "80da67bb9f6764eded69c43150311315a20d707f71b88a655de743a6328bf0a4",
        767,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/leaderboards/data_AlpacaEval_2/mistral-large-2402_ranking_leaderboard.csv",
    ),
    "alpaca_eval/leaderboards/AE2_weighted_alpaca_eval_gpt4_turbo_leaderboard__2024-03-19_241e1f6.csv": _F(
        "89ca530ec3b0c56d8d3a2c649977eb3ad32b86679fdcbbc6e188f2cefdbe01a8",
        16078,
        "tatsu-lab/alpaca_eval",
        "241e1f607b7ad8416b764b7eedd0db4ed2da1b93",
        "src/alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv",
    ),
    "alpaca_eval/leaderboards/AE2_weighted_alpaca_eval_gpt4_turbo_leaderboard__HEAD.csv": _F(
        "fe32bf85c2f7429038faa4c9a884d1d131726454ff84a4b810a91c1c7a2aa0e9",
        28339,
        "tatsu-lab/alpaca_eval",
        "cd543a149df89434d8a54582c0151c0b945c3d20",
        "src/alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv",
    ),
    "cheating_null_models/README.md": _F("09519ce868e26d8e9480c3cf76b237cc498196adb12c6ba65a4f6599f8959838", 2598),
    "cheating_null_models/inventory.json": _F("65e4ffc42790c3a94ca71947e8d1dbf1b3aeaa2b6303265e2e36102d8e72a2f8", 373),
    "cheating_null_models/nullmodel_constant_response__alpacaeval2__structured_plus_RS.txt": _F(
        "9a108bb11699229092e630a7433083551fae8bfe842022ba658acd5bff5af9a2", 885
    ),
    "cheating_null_models/random_search_judge_prompts__ultrafeedback_gpt4_vs_null.json": _F(
        "0f9ed2f0506b7114b14e5c0f627cbffc08b50d4c754a90fd9c8c14da800547bc", 2316211
    ),
    "cheating_null_models/random_search_trajectory__gpt-4-1106-preview__N10_T384_seed0.csv": _F(
        "7590f4f1a0dd5c6911ca32911e9c62605ef6069f8e1a0ab6c1fa3288fc2cb062", 455356
    ),
    "wildbench/README.md": _F("32b29d2f2962d08197257e5a7d638f693ff8d369b5cdac9a8da4a042eb4f4b00", 4910),
    "wildbench/inventory.json": _F("ea6307161a45e6e9ef9899874f61cdfc834e3764342873da181d1f5e1192b288", 32872),
    "wildbench/wb_score_per_example__29files__slim.csv.gz": _F(
        "9047a05cf2782c43941d5fd32f0fa9f6b2b4fa4a19c01520140fca48eb81fb4e", 445954
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat.json": _F(
        "959e83cd17db9eb385adf72e568fcccfd526fe1307717511239eb60ea3101c15",
        8889,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.-1.json": _F(
        "875a6d20318bfdfbeb7a36e1cfab21a2cf979904e65540d678f415358a5d911e",
        114837,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.-1.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.100.json": _F(
        "4996f890649d7aa8b05a1907fcbedb98ddd37fc97231dccd87745e9329e01905",
        95904,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.100.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.1000.json": _F(
        "ffe592690a55cdeccdb0cc5e3d3da9d1847ae3fdd70b42d0a260ef9849a7e9f3",
        117418,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.1000.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.1500.json": _F(
        "d3d3cfcb1ddeb21bc100a761a471ec9d47857e8096f6820b3ddca1b82b8d12f4",
        117481,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.1500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.2000.json": _F(
        "9f884823716655eea3f46ef647c3a3a2adb5ff1d880ffb9cfa8154abd6fe6c6a",
        97220,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.2000.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.300.json": _F(
        "b383dbb546559026aacd51d2f849b124cf90b9cb9d6962223c7c88e65923b258",
        95904,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.300.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.3000.json": _F(
        "e9e01561b417ccb15d82fc74304dd25a4a84c6ee5b56f2b08cc125dfcf9ba972",
        97220,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.3000.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/all_stat_wildbench.500.json": _F(
        "11695f851a66306d65a6bda55dda1f68f08f2015fe59ea4b0114246c253a1942",
        116183,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/all_stat_wildbench.500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-gpt4t-K=-1.json": _F(
        "77340b21358fc93f3d1cd1c0dbbd7c091b16195544a9c76c9c68ef8084666dfa",
        62996,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-gpt4t-K=-1.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-gpt4t-K=1000.json": _F(
        "570bd1e7413ee5f1200f950473638f1d41237d1c4a14c9002b2518e641656716",
        63202,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-gpt4t-K=1000.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-gpt4t-K=1500.json": _F(
        "e372c075ee85ef6014ce323e691259bab08682640cc6a1c9d074a87f12fb08c4",
        63137,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-gpt4t-K=1500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-gpt4t-K=500.json": _F(
        "1d33f990ca21abb41eeb9f18a26e0a9371d6014b80e225259cf07e38baa21fea",
        63171,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-gpt4t-K=500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-haiku-K=-1.json": _F(
        "c423583c573fbd7186427cd3cf64c8feeb3db006bbfba7eedf86f283409e3f30",
        64438,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-haiku-K=-1.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-haiku-K=1000.json": _F(
        "628764907f4273ecfc9e024708ca3d2a290c754a9c906ac5f714cdfb86096bac",
        64693,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-haiku-K=1000.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-haiku-K=1500.json": _F(
        "097b04012246826a6deb405e162733c0469b4904d08c74f5be6a16a444765aaf",
        64670,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-haiku-K=1500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-haiku-K=500.json": _F(
        "d515570653cda35a46e13a06cb7028ce939f5897b8020819efb68901755a9b57",
        64690,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-haiku-K=500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-llama-K=-1.json": _F(
        "c6e205e1dca6f94eac98178e54a369a5b590f7bac3e99e8c5674ffb2a86ca3e5",
        62941,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-llama-K=-1.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-llama-K=1000.json": _F(
        "809cb0ac8d8db8472749fe031c873c9e31a536c5709deca720480f02405bd4e0",
        63110,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-llama-K=1000.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-llama-K=1500.json": _F(
        "82ce25842b6bf0636dd44c5b3276ba237696f8459d6cbcd8812d666dafd804b9",
        63119,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-llama-K=1500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/pairwise-llama-K=500.json": _F(
        "18cd8e1b8f2017e11b258b24b1057c86fc3d3d050931ef69a4e1bd2b04c932e2",
        63106,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/pairwise-llama-K=500.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/score.json": _F(
        "8a447e6f2c3e3516342652efe8272db3a5ddd7f7069564c3113a790fe638ef58",
        26740,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/score.json",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/wb_elo.txt": _F(
        "b32abb839dc77acde9211c48a5c1eb13a1218bb98ee2ced5d3a80f4018502494",
        12712,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/wb_elo.txt",
    ),
    "wildbench/leaderboard_data_dir__2024-06-18_8ed3a40/wb_elo_results.json": _F(
        "9797e4e97be91dd339b819ca1d65ff423d39afaac921e73726eddea82dac93f8",
        15185,
        "allenai/WildBench",
        "8ed3a40399a489442cf8dbe65c2381f447a2313f",
        "leaderboard/data_dir/wb_elo_results.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat.json": _F(
        "da75f4b2a60d17c2b59f5a9c539bfd87ca1b2369e5da042b3ceaa1ea833c82e9",
        10581,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.-1.json": _F(
        "a03044bf4873d6f9db086826b5f932691454012a86bce9936ecfc57f9c1ceef7",
        143552,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.-1.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.100.json": _F(
        "746d072fea8861b1b74e759f9370e9e787b5f53c163f6480d71f878e315a44de",
        124102,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.100.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.1000.json": _F(
        "ed211c2af2307c68e4eb02886ca53fe9570aafd83ed1a30454d137e4dc1e9318",
        146745,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.1000.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.1500.json": _F(
        "f856c5569a037283f591987756ddc633a60d80ec39ac239a6379508816ef6f7c",
        146909,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.1500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.2000.json": _F(
        "b24e69c37eb9d9e01fc559d0f9c1ebcd65d6d0b1dcdb9779b0952721e178fcd0",
        125810,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.2000.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.300.json": _F(
        "ecd3d069e4caff905a1b474a886dac606812c00402834e77ebb66d51f6252c92",
        124102,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.300.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.3000.json": _F(
        "eea4e3b7ed388cbcd9e225ea8b2ad2d6693d8af19877576a4f95b4a5bc1d2322",
        125810,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.3000.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/all_stat_wildbench.500.json": _F(
        "3cdfd62ae5ae64d8411480d971b2280dfbaefc5a9e51b0cac0bd93fe45a52972",
        145220,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/all_stat_wildbench.500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-gpt4t-K=-1.json": _F(
        "801a0353f9f8ae3e94721430838c56de67fc3ae06f5a205927d96a3a681c6bc0",
        69858,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-gpt4t-K=-1.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-gpt4t-K=1000.json": _F(
        "8c8ee05859116783c4a6ce7567411896f5cd924344e5e23811715bbfb2530f05",
        70032,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-gpt4t-K=1000.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-gpt4t-K=1500.json": _F(
        "16e0a4b30439896aa6e214973b2df23d50b0d7ac91846f5a1b2a5243be11938c",
        70029,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-gpt4t-K=1500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-gpt4t-K=500.json": _F(
        "b3760b9306f4d3f0dacc6592398ecc83144b1d2b9c3423469f523ed608994ee6",
        70053,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-gpt4t-K=500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-haiku-K=-1.json": _F(
        "abbe487cdb3f80dfc4a9531edc8c09cd26fcb5bbceb0192d1c6e0ad27bba7163",
        72683,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-haiku-K=-1.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-haiku-K=1000.json": _F(
        "99beb6e6760f8e1e7310acd1ae684db8793b1b272eef7e6d95f84f61e59993ef",
        72768,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-haiku-K=1000.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-haiku-K=1500.json": _F(
        "8d1d4dead486c9226a604662b04e2635aa713028623f4d87d3b296604c3ede8b",
        72859,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-haiku-K=1500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-haiku-K=500.json": _F(
        "073e478e5b1bd0abc8c29eb8f58273ac2428b0b531fcba9d6a660c8a01622bcd",
        72799,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-haiku-K=500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-llama-K=-1.json": _F(
        "3317ffe1c71330d5b9c1dcf194d9c90a4c51c8fab8713612cf53b1a0b525cd17",
        69710,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-llama-K=-1.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-llama-K=1000.json": _F(
        "935950a03a72c801a0befc5ec9551b3abbd1325877c4cf1d8422a7e5e913fb72",
        69836,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-llama-K=1000.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-llama-K=1500.json": _F(
        "08b24bb68b552c165f66a95ffd8ce0091b23a78d08067c3ae4c0e15659ce9dd5",
        69825,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-llama-K=1500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/pairwise-llama-K=500.json": _F(
        "ba1e95235c67cdbd00e5f5bfb7bd241f3afe4c8d395db56d090a68c3afa523a1",
        69793,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/pairwise-llama-K=500.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/score-sonnet.json": _F(
        "da04588de2a990f4330fbcb797d2986b68a61c1c9417fdce207afc9b70d29ff5",
        1687,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/score-sonnet.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/score.json": _F(
        "3d083b1ece68f034a90cd81100ea88f0deabd4fcafc648bd11e643167a5b5a63",
        34657,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/score.json",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/wb_elo.txt": _F(
        "b32abb839dc77acde9211c48a5c1eb13a1218bb98ee2ced5d3a80f4018502494",
        12712,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/wb_elo.txt",
    ),
    "wildbench/leaderboard_data_dir__HEAD_2024-08-01/wb_elo_results.json": _F(
        "527f32399e835145af7abad01643683b40211d709c8765d34cc973b2a9b79ecd",
        20035,
        "allenai/WildBench",
        "d6b8dcaf377d173d031980f97c16e1a82618c03d",
        "leaderboard/data_dir/wb_elo_results.json",
    ),
}

# How each derived file (no upstream counterpart) was made; quoted in the error message.
DERIVED = {
    "alpaca_eval/annotations_weighted_alpaca_eval_gpt4_turbo__slim__48models.csv.gz": (
        "slimmed from tatsu-lab/alpaca_eval@cd543a1 results/<model>/weighted_alpaca_eval_gpt4_turbo/"
        "annotations.json for the 48 models whose file is < 4 MiB (columns and matching rules in "
        "alpaca_eval/README.md)"
    ),
    "alpaca_eval/eval_set_805_with_gpt4_1106_preview_baseline_outputs.json": (
        "the 805 instructions and output_1 of tatsu-lab/alpaca_eval@cd543a1 results/gpt4_1106_preview/"
        "weighted_alpaca_eval_gpt4_turbo/annotations.json"
    ),
    "alpaca_eval/model_output_char_lengths__wide.csv.gz": (
        "character lengths of the outputs in tatsu-lab/alpaca_eval@cd543a1 results/<model>/model_outputs.json"
    ),
    "alpaca_eval/derived__instruction_difficulty_recovered_ridge0.15.csv": (
        "an estimate of AlpacaEval's instruction difficulty fitted for the shared bundle (ridge 0.15 on the "
        "published GLM weights; see alpaca_eval/README.md); the official file lives on the Hugging Face Hub "
        "(dataset tatsu-lab/alpaca_eval, instruction_difficulty.csv) and is not the same file"
    ),
    "cheating_null_models/nullmodel_constant_response__alpacaeval2__structured_plus_RS.txt": (
        "the single constant output of sail-sg/Cheating-LLM-Benchmarks@a08446f example/outputs.json"
    ),
    "cheating_null_models/random_search_judge_prompts__ultrafeedback_gpt4_vs_null.json": (
        "decoded from the pickles data/train_ultrafeedback_gpt-4_vs_nil*.pkl of "
        "sail-sg/Cheating-LLM-Benchmarks@a08446f"
    ),
    "cheating_null_models/random_search_trajectory__gpt-4-1106-preview__N10_T384_seed0.csv": (
        "decoded from notebook_gpt4/saved/gpt-4-1106-preview/evaluated_nil_N_10_tokens_128_step_384_stride_16"
        "_seed_0.pkl of sail-sg/Cheating-LLM-Benchmarks@a08446f"
    ),
    "wildbench/wb_score_per_example__29files__slim.csv.gz": (
        "slimmed from allenai/WildBench@d6b8dca eval_results/*/score.v2/*/*.json (the 29 files < 4 MiB)"
    ),
}


def cache_root() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "replicate" / "data")


def data_dir() -> Path | None:
    d = os.environ.get(ENV_DIR)
    return Path(d) if d else None


sha256_of = file_sha256  # one streaming SHA-256 for the whole package (replicate.core.io)


def data_path(relpath: str, *, verify: bool = False, download: bool | None = None) -> Path:
    """Local path of a public data file (see the module docstring for the search order).

    ``verify``: also check the sha256 of a file found under $REPLICATE_DATA_DIR.
    ``download``: allow fetching from upstream (default: unless ``REPLICATE_OFFLINE=1``).
    Raises :class:`DataFileNotFound` with instructions when the file cannot be had.
    """
    relpath = str(relpath).lstrip("/")
    entry = FILES.get(relpath)
    root = data_dir()
    if root is not None and (root / relpath).is_file():
        p = root / relpath
        if verify and entry is not None and sha256_of(p) != entry.sha256:
            raise DataChecksumError(
                f"{p}: sha256 differs from the registered {entry.sha256[:12]}… (a different version of the file?)"
            )
        return p
    cached = cache_root() / relpath
    if entry is not None and cached.is_file():
        if sha256_of(cached) == entry.sha256:
            return cached
        cached.unlink()  # corrupt or stale: fetch again below
    if download is None:
        download = os.environ.get(ENV_OFFLINE, "") not in ("1", "true", "yes")
    if entry is not None and entry.url is not None and download:
        try:
            return _download(entry, cached)
        except DataChecksumError:
            raise
        except OSError as e:
            raise DataFileNotFound(_missing_message(relpath, entry, root, cached, f"download failed: {e}")) from None
    raise DataFileNotFound(_missing_message(relpath, entry, root, cached, None if download else "downloads are off"))


def _missing_message(relpath, entry, root, cached, why) -> str:
    where = f"${ENV_DIR} ({root}/{relpath})" if root is not None else f"${ENV_DIR} (not set)"
    lines = [f"public data file {relpath!r} not found: looked in {where} and the cache ({cached})."]
    if entry is None:
        lines.append("It is not in replicate.worlds.public_data.FILES; check the name against the data READMEs.")
    elif entry.url is not None:
        lines.append(
            f"It is downloaded from {entry.url} (pinned commit, sha256 {entry.sha256[:12]}…)"
            + (f"; {why}." if why else ".")
        )
        lines.append(
            f"Offline: fetch that URL elsewhere and save it as {cached}, or set {ENV_DIR} to a "
            "copy of the shared data bundle (the Makefile uses ../shared/data)."
        )
    else:
        how = DERIVED.get(relpath, "documentation that ships with the bundle")
        lines.append(
            f"It has no upstream file to download: it is derived ({how}) and comes with the shared "
            f"data bundle. Set {ENV_DIR} to a copy of that bundle (the Makefile uses ../shared/data) "
            f"or place the file at {cached}."
        )
    return " ".join(lines)


def _download(entry: _F, dest: Path) -> Path:
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        h = hashlib.sha256()
        n = 0
        with urllib.request.urlopen(entry.url, timeout=60) as r, os.fdopen(fd, "wb") as f:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
                f.write(chunk)
        if h.hexdigest() != entry.sha256 or n != entry.size:
            raise DataChecksumError(
                f"{entry.url}: got sha256 {h.hexdigest()[:12]}… ({n} bytes), expected "
                f"{entry.sha256[:12]}… ({entry.size} bytes); the file was not used"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def verify_all(root: str | Path | None = None) -> dict[str, str]:
    """Check every registered file present under ``root`` (default $REPLICATE_DATA_DIR): relpath -> problem."""
    root = Path(root) if root is not None else data_dir()
    problems = {}
    for rel, e in FILES.items():
        p = root / rel
        if not p.is_file():
            problems[rel] = "missing"
        elif p.stat().st_size != e.size or sha256_of(p) != e.sha256:
            problems[rel] = "checksum mismatch"
    return problems
