# ScatSimCLR-8 + jigsaw regulariser (35 permutations; tiles in [0, 1] as the reference).
_base_ = ['./scatsimclr8_1xb64-100e_stl10.py']
model = dict(pretext_head=dict(type='JigsawHead'), raw_pretext_inputs=True)
train_dataloader = dict(dataset=dict(pipeline={{_base_.jigsaw_train_pipeline}}))
