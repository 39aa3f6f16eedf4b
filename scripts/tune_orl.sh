#!/usr/bin/env bash
# Grid searches that chose the built-in faces' presets (the `presets` of each method module), on tuning seed 100
# (rounds that start with "seeds=100,101,..." run on each of those, 100-104): the README reports seeds 0-2 only. Writes
# docs/tuning/orl-<scenario>/<method>.md, one table per round and seed; mu_core/tuning.py says how a preset is picked.
# Usage: scripts/tune_orl.sh person|photos [METHOD ...]   (all methods when none is named)
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/tune_orl.sh person|photos [METHOD ...]}
shift
python=${PYTHON:-.venv/bin/python}
outdir=docs/tuning/orl-$scenario
mkdir -p "$outdir"

declare -A person=(
  [finetune]="epochs=1 lr=0.01,0.05 momentum=0.9; epochs=1 lr=0.01,0.05 momentum=0.9 retain_share=0.7,0.85"
  [cf_k]="k=1,2 epochs=2 lr=0.05 momentum=0.9; seeds=100,101,102,103,104 k=1 augment=false epochs=100,300 lr=0.3,0.5 momentum=0.9 weight_decay=0.0005,0.002,0.005"
  [neggrad]="epochs=2,4 lr=0.005,0.02 momentum=0.9; epochs=3,4 lr=0.01 momentum=0.9; train_from=fc momentum=0.9 epochs=2,5,10 lr=0.01,0.1; train_from=fc momentum=0.9 epochs=20,50 lr=0.005,0.01,0.02"
  [adv_neggrad]="epochs=1 lr=0.01,0.05 momentum=0.9 forget_weight=0.5,1 forget_batch_size=16; epochs=1 lr=0.01,0.02 momentum=0.9 forget_weight=0.5,1 forget_batch_size=16 retain_share=0.7; seeds=100,101,102 train_from=fc retain_share=1 momentum=0.9 forget_batch_size=16 epochs=100,300 lr=0.1,0.3 forget_weight=0.1; seeds=100,101,102 train_from=fc retain_share=1 momentum=0.9 forget_batch_size=16 epochs=30,100 lr=0.03,0.1 forget_weight=0.01,0.03; seeds=100,101,102 train_from=fc retain_share=1 momentum=0.9 forget_batch_size=16 epochs=100,300 lr=0.01,0.03 forget_weight=0.003,0.01; seeds=103,104 train_from=fc retain_share=1 momentum=0.9 forget_batch_size=16 epochs=30,100 lr=0.03 forget_weight=0.01,0.03; seeds=103,104 train_from=fc retain_share=1 momentum=0.9 forget_batch_size=16 epochs=100,300 lr=0.01,0.03 forget_weight=0.003,0.01"
  [unsir]="optimizer=sgd lr=0.01,0.05 repair_lr=0.01; optimizer=sgd lr=0.05 repair=false; optimizer=sgd lr=0.05 repair=false noise_steps=2,5 noise_per_class=4 retain_share=0.5,0.7; seeds=100,101,102,103,104 train_from=fc optimizer=sgd repair=false impair_epochs=5,10 lr=0.05,0.2 noise_per_class=8,32"
  [scrub]="variant=original epochs=1 msteps=1 lr=0.01,0.03,0.05; variant=original epochs=1 msteps=1 lr=0.05 retain_share=0.4,0.5; variant=original epochs=2 msteps=2 lr=0.03 retain_share=0.2,0.3; seeds=100,101,102 train_from=fc retain_share=1 epochs=50,100 msteps=1,10 lr=0.02,0.1; seeds=100,101,102 train_from=fc retain_share=1 epochs=100,200 msteps=2,3,5 lr=0.02,0.05; seeds=103,104 train_from=fc retain_share=1 epochs=50,100 msteps=10 lr=0.02; seeds=103,104 train_from=fc retain_share=1 epochs=100,200 msteps=5 lr=0.05"
  [ssd]="dampening=0.1,1 selection=10,30; dampening=0.1,1 selection=10 retain_share=0.3,0.4; seeds=100,101,102,103,104 train_from=fc selection=1,3,10 dampening=0.1,1; seeds=100,101,102,103,104 train_from=fc importance_set=retain selection=1,3,10 dampening=0.01,0.1"
  [bad_teacher]="epochs=1,2 lr=0.0001,0.001 batch_size=32; epochs=1 lr=0.0002,0.0004 batch_size=32; epochs=2,3 lr=0.0001,0.0002 retain_share=0.1,0.15 batch_size=32; epochs=2 lr=0.0001,0.00015 retain_share=0.05,0.08 batch_size=32; seeds=100,101,102,103,104 train_from=fc retain_share=1 epochs=30,100,300 lr=0.001,0.003,0.01"
  [bad_teacher_sim]="epochs=1,2 lr=0.0001,0.001 batch_size=32; epochs=1 lr=0.0002,0.0004 batch_size=32; epochs=1 lr=0.0002,0.0003 batch_size=32 neighbours=1,2; epochs=1 lr=0.0003,0.0004 batch_size=64 neighbours=1; seeds=100,101,102,103,104 train_from=fc epochs=30,100 lr=0.003,0.01 neighbours=3,10"
  [contrastive]="epochs=1 forget_lr=0.0003,0.003 batch_size=64; epochs=1 forget_lr=0.0003,0.003 batch_size=64 retain_share=0.3,0.4; seeds=100,101,102,103,104 train_from=fc epochs=10,20 uniform_lr=0.05,0.5 forget_lr=0.003,0.03"
  [gisa]="epochs=1 lr=0.0001,0.001 forget_batch_size=16; epochs=1 lr=0.0001,0.0003 forget_batch_size=16 retain_share=0.2,0.3; seeds=100,101,102,103,104 train_from=fc epochs=10,20 lr=0.001,0.01 forget_batch_size=16"
  [piu_fr]="epochs=5,10 lr=0.001,0.01; epochs=3,4 lr=0.02,0.05; seeds=100,101,102,103,104 train_from=fc epochs=10,50 lr=0.05,0.3 stage2=false,true"
  [random_labels]="epochs=1,2 lr=0.0001,0.0003; epochs=1 lr=0.0003,0.0005 retain_share=0.6,0.75; epochs=1 lr=0.0003,0.0004 retain_share=0.4,0.5; seeds=100,101,102 train_from=fc optimizer=sgd momentum=0.9 retain_share=1 epochs=100,300 lr=0.1,0.3; seeds=100,101,102 train_from=fc optimizer=sgd momentum=0.9 retain_share=1 epochs=100,300 lr=0.02,0.05,0.2; seeds=100,101,102 train_from=fc optimizer=sgd momentum=0.9 retain_share=1 epochs=300,500 lr=0.01,0.03; seeds=103,104 train_from=fc optimizer=sgd momentum=0.9 retain_share=1 epochs=100,300 lr=0.02,0.05; seeds=103,104 train_from=fc optimizer=sgd momentum=0.9 retain_share=1 epochs=300,500 lr=0.01,0.03"
  [salun]="epochs=1,2 lr=0.001,0.01 saliency_fraction=0.25,0.5; epochs=1 lr=0.01,0.02 saliency_fraction=0.5 retain_share=0.5,0.6; epochs=1 lr=0.02,0.03 saliency_fraction=0.5 retain_share=0.3,0.4; seeds=100,101,102 train_from=fc retain_share=1 epochs=100,300 lr=0.05,0.1,0.3 saliency_fraction=0.5,1; seeds=100,101,102 train_from=fc retain_share=1 epochs=300,500 lr=0.02,0.03 saliency_fraction=0.3,0.5; seeds=103,104 train_from=fc retain_share=1 epochs=100,300 lr=0.05,0.1 saliency_fraction=0.5,1; seeds=103,104 train_from=fc retain_share=1 epochs=300,500 lr=0.02,0.03 saliency_fraction=0.3,0.5"
)
declare -A photos=(
  [finetune]="epochs=1,2 lr=0.001,0.01 momentum=0.9; epochs=1 lr=0.001,0.01 momentum=0.9 retain_share=0.6,0.75"
  [cf_k]="k=1,3 epochs=2 lr=0.001,0.01 momentum=0.9; k=1 augment=false epochs=100,300 lr=0.1,0.3 momentum=0.9 weight_decay=0.0005,0.005; k=2 augment=false epochs=10,30 lr=0.01,0.05 momentum=0.9 weight_decay=0.0005; seeds=100,101,102,103 k=1 augment=false epochs=100,300 lr=0.1 momentum=0.9 weight_decay=0.005"
  [neggrad]="epochs=1,3 lr=0.0001,0.001"
  [adv_neggrad]="epochs=1,2 lr=0.001,0.005 forget_weight=0.1 forget_batch_size=16; epochs=1 lr=0.005,0.01 forget_weight=0.1 forget_batch_size=16 retain_share=0.6,0.7; train_from=layer4 retain_share=0.7 forget_batch_size=16 forget_weight=0.1 epochs=2,4 lr=0.005,0.01; train_from=layer4 retain_share=0.7 forget_batch_size=16 forget_weight=0.1 epochs=2 lr=0.03,0.1"
  [unsir]="lr=0.0001,0.001 repair_lr=0.001; lr=0.00005 repair_lr=0.0001 noise_steps=2 noise_per_class=4; lr=0.00005 noise_steps=1 noise_per_class=2 repair=false; lr=0.0001 noise_steps=1 noise_per_class=1,2 repair=false retain_share=0.5,0.7; lr=0.0001 noise_steps=1 noise_per_class=2 repair=false retain_share=0.4,0.45; lr=0.0001 noise_steps=1 noise_per_class=1 repair=false retain_share=0.3,0.4; seeds=100,101,102,103 lr=0.0001 noise_steps=1 noise_per_class=1 repair=false retain_share=0.3,0.4; seeds=100,101,102,103 train_from=layer4 noise_steps=1 noise_per_class=1 repair=false retain_share=0.4 lr=0.0001,0.0003,0.001,0.003"
  [scrub]="epochs=1,2 msteps=1 lr=0.0005,0.005; epochs=1 msteps=1 lr=0.0005,0.005 retain_share=0.5,0.6; epochs=1 msteps=1 lr=0.0005,0.005 retain_share=0.3,0.4; train_from=layer4 retain_share=0.5 epochs=2,4 msteps=1 lr=0.0005,0.002; train_from=layer4 retain_share=0.5 epochs=2 msteps=1 lr=0.01,0.03"
  [ssd]="dampening=0.1,1 selection=10,50; dampening=0.1,1 selection=10 retain_share=0.4,0.5; seeds=100,101,102,103 dampening=0.1 selection=10 retain_share=0.4,0.5; seeds=100,101,102,103 train_from=layer4 dampening=0.1 selection=10,50 retain_share=0.4"
  [bad_teacher]="epochs=1,2 lr=0.0001,0.0003 batch_size=32"
  [bad_teacher_sim]="epochs=1,2 lr=0.0001,0.0003 batch_size=32; epochs=1 lr=0.0001,0.0003 batch_size=32 neighbours=1,2; epochs=1 lr=0.0001,0.0002 batch_size=64 neighbours=1; seeds=100,101,102,103 epochs=1 lr=0.0001,0.0002 batch_size=64 neighbours=1; seeds=100,101,102,103 train_from=layer4 batch_size=64 neighbours=1,3 epochs=1,2 lr=0.0001,0.0003"
  [contrastive]="epochs=1 forget_lr=0.0003,0.003 batch_size=64; epochs=1 forget_lr=0.0003,0.003 batch_size=64 retain_share=0.5,0.6; epochs=1 forget_lr=0.0003 batch_size=64 retain_share=0.3,0.4; seeds=100,101,102,103 epochs=1 forget_lr=0.0003 batch_size=64 retain_share=0.3,0.4; seeds=100,101,102,103 train_from=layer4 batch_size=64 retain_share=0.4 epochs=1,2 forget_lr=0.0003,0.003"
  [gisa]="epochs=1 lr=0.0001,0.001 forget_batch_size=16; epochs=1 lr=0.0001,0.0003 forget_batch_size=16 retain_share=0.2,0.3; seeds=100,101,102,103 epochs=1 lr=0.0001,0.0003 forget_batch_size=16 retain_share=0.2; seeds=100,101,102,103 train_from=layer4 epochs=1,2 lr=0.0001,0.001 forget_batch_size=16 retain_share=0.2"
  [piu_fr]="epochs=2,10 lr=0.001; seeds=100,101,102,103 train_from=layer4 epochs=2,10 lr=0.001,0.01"
  [random_labels]="epochs=1 lr=0.00003,0.0001; epochs=1 lr=0.00003,0.0001 retain_share=0.6,0.75; epochs=1 lr=0.0001,0.0002 retain_share=0.4,0.5; seeds=100,101,102,103 epochs=1 lr=0.0001 retain_share=0.4,0.5,0.6; train_from=layer4 retain_share=0.4 epochs=2,4 lr=0.0001,0.0003; seeds=100,101,102,103 train_from=layer4 retain_share=0.4,0.6 epochs=2,3 lr=0.0001,0.00015"
  [salun]="epochs=1 lr=0.001,0.003,0.01; epochs=1 lr=0.003,0.01 retain_share=0.5,0.6; epochs=1 lr=0.003,0.01 retain_share=0.3,0.4; seeds=100,101,102,103 epochs=1 lr=0.01 retain_share=0.3,0.4; train_from=layer4 retain_share=0.4 epochs=2,4 lr=0.01,0.03; seeds=100,101 train_from=layer4 epochs=2 lr=0.002,0.005 retain_share=0.4,0.6"
)
declare -n grids=$scenario
methods=("$@")
[ ${#methods[@]} -gt 0 ] || methods=("${!grids[@]}")

# A method's grids are separated by ";": each is one round, chosen after reading the tables of the ones before.
for method in "${methods[@]}"; do
  out=$outdir/$method.md
  {
    echo "## $method ($scenario scenario)"
    IFS=';' read -ra rounds <<< "${grids[$method]}"
    for round in "${rounds[@]}"; do
      seeds=100
      args=()
      for g in $round; do
        if [[ $g == seeds=* ]]; then seeds=${g#seeds=}; else args+=(--grid "$g"); fi
      done
      for seed in ${seeds//,/ }; do
        echo
        echo "    python -m mu_core tune --scenario $scenario --seed $seed --method $method ${args[*]} --markdown-out"
        echo
        "$python" -m mu_core tune --scenario "$scenario" --seed "$seed" --method "$method" "${args[@]}" \
          --markdown-out 2>/dev/null | grep '^|'
      done
    done
  } > "$out.tmp"
  mv "$out.tmp" "$out"
  echo "wrote $out"
done
