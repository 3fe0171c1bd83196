"""Training on several devices or machines: the strategy, the chief, and stops all workers share."""

import contextlib
import os
import signal

import tensorflow as tf
from tensorflow.python.distribute import multi_worker_util
from tensorflow.python.eager import context
from tensorflow.tsl.protobuf import coordination_config_pb2

from compressor.errors import TrainingError

__all__ = ["STRATEGIES", "Distribution", "per_replica_batch_size"]

# tf.distribute strategies: the default one (one device), MirroredStrategy (every
# local device) and MultiWorkerMirroredStrategy (machines listed in TF_CONFIG).
STRATEGIES = ("default", "mirrored", "multi_worker")
# How long a worker may go silent (paused, starved) before the others stop.
HEARTBEAT_TIMEOUT_SECONDS = 120


def _create_strategy(name):
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    if not os.environ.get("TF_CONFIG"):
      raise TrainingError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                          "(the cluster and this machine's task in it)")
    _configure_coordination()
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise TrainingError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def _configure_coordination():
  """The coordination service MultiWorkerMirroredStrategy would set up, with a longer heartbeat.

  Its default declares a worker lost after 10 s without a heartbeat, and a worker paused that
  long (a busy machine, a swap storm, SIGSTOP) ended every worker's run. A worker that dies
  closes its connections and is noticed at once; the heartbeat only catches a frozen one.
  TensorFlow has no public API for this; the strategy keeps a configuration it finds.
  """
  cluster_spec = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
  jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster_spec.num_tasks(job))
          for job in ("chief", "worker") if job in cluster_spec.jobs]
  context.context().configure_coordination_service(
      service_type="standalone",
      service_leader=multi_worker_util.coordination_leader(cluster_spec),
      coordinated_jobs=jobs, heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000)


def _is_chief(strategy):
  """The task "chief", else worker 0: the one process that writes into the model directory."""
  resolver = strategy.cluster_resolver
  if resolver is None or resolver.task_type in (None, "chief"):
    return True
  return (resolver.task_type == "worker" and resolver.task_id == 0
          and "chief" not in resolver.cluster_spec().as_dict())


def per_replica_batch_size(batch_size, replicas):
  """Each replica's share of a global batch; TrainingError if it does not split evenly."""
  if batch_size % replicas:
    raise TrainingError(f"--batchsize {batch_size} cannot be split evenly across "
                        f"{replicas} replicas; use a multiple of {replicas}")
  return batch_size // replicas


class Distribution:
  """A tf.distribute strategy with what one training run needs to know and share about it.

  Create it first in a program: MultiWorkerMirroredStrategy sets up the
  collective ops of the whole program.
  """

  def __init__(self, name, model_dir):
    self.name = name
    self.strategy = _create_strategy(name)
    self.is_chief = _is_chief(self.strategy)
    self.multi_worker = name == "multi_worker"
    # Every worker saves, as saving may need collective ops, but only the chief
    # keeps what it saves; the others write into a directory of their own and
    # delete it (TensorFlow's multi-worker tutorial does the same).
    resolver = self.strategy.cluster_resolver
    self.scratch_dir = (None if self.is_chief else
                        os.path.join(model_dir, f"{resolver.task_type}-{resolver.task_id}.tmp"))
    self.stop_requested = False

  @property
  def replicas(self):
    return self.strategy.num_replicas_in_sync

  def per_replica_batch_size(self, batch_size):
    return per_replica_batch_size(batch_size, self.replicas)

  @tf.function
  def _sum_over_replicas(self, values):
    results = self.strategy.run(tf.identity, args=(values,))
    return self.strategy.reduce(tf.distribute.ReduceOp.SUM, results, axis=None)

  def sum_over_replicas(self, values):
    """Integer `values` summed over every replica of every worker: figures all workers share."""
    return self._sum_over_replicas(tf.constant(values, tf.int64)).numpy()

  def check_same_step(self, step):
    """Workers that restored different checkpoints would silently train apart."""
    total, squares, replicas = self.sum_over_replicas([step, step * step, 1])
    # The sum of squares is the square of the sum over n only if all are equal.
    if squares * replicas != total * total:
      raise TrainingError("the workers resumed from different steps: every worker must see "
                          "the same --model_dir, e.g. on a shared file system")

  @contextlib.contextmanager
  def signals_request_stop(self):
    """With several workers, Ctrl-C and SIGTERM only ask to stop before the next step.

    A KeyboardInterrupt between two collective ops would leave the other workers
    waiting; the request is shared instead, and every worker stops at the same step.
    """
    if not self.multi_worker:
      yield
      return
    def request_stop(signum, frame):
      self.stop_requested = True
    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
      yield
    finally:
      for s, handler in previous.items():
        signal.signal(s, handler)

  def shared_stop(self, *flags):
    """(stop, *flags), each true if it is on any worker: one worker's reason is every worker's.

    Only multi-worker runs pay for the all-reduce before every step; in one
    process the local flags are everyone's.
    """
    local = (self.stop_requested, *flags)
    if not self.multi_worker:
      return tuple(bool(flag) for flag in local)
    return tuple(bool(flag) for flag in self.sum_over_replicas(list(local)) > 0)
