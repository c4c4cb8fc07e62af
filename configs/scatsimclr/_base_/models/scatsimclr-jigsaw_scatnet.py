# ScatSimCLR + jigsaw regulariser (35 permutations; tiles in [0, 1] as the reference's Resize + ToTensor).
# Leaf configs pick the dataset's `jigsaw_train_pipeline`.
_base_ = ['./scatsimclr_scatnet.py']
model = dict(pretext_head=dict(type='JigsawHead'), raw_pretext_inputs=True)
