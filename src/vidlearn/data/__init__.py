"""Records and where they come from: `records.VideoRecord` (path, target, group, start/end seconds),
`sources.load_records` (a class-per-folder directory, a CSV manifest, a UCF101/HMDB51 split list,
one file), `splits` (group-aware splits, k-fold, leave-one-group-out), `sampling` (samplers that
answer "which seconds"), `synthetic` (the seeded demo dataset; `synthetic_multilabel`: videos with several motions), and
multi-label targets (`join_labels`, `split_labels`, `label_names`)."""

from vidlearn.data.records import VideoRecord, join_labels, split_labels
from vidlearn.data.sampling import build_test_sampler, build_train_sampler, record_span
from vidlearn.data.sources import class_names, is_video_file, label_names, load_records
from vidlearn.data.splits import kfold, leave_one_group_out, parse_cv, train_val_test_split

__all__ = [
    "VideoRecord",
    "build_test_sampler",
    "build_train_sampler",
    "class_names",
    "is_video_file",
    "join_labels",
    "kfold",
    "label_names",
    "leave_one_group_out",
    "load_records",
    "parse_cv",
    "record_span",
    "split_labels",
    "train_val_test_split",
]
