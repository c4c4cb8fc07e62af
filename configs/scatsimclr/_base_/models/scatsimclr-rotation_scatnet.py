# ScatSimCLR + rotation regulariser (lambda = 0.3 from the start, as the code; paper: pretext_start=40).
# Leaf configs pick the dataset's `rotation_train_pipeline`.
_base_ = ['./scatsimclr_scatnet.py']
model = dict(pretext_head=dict(type='RotationHead'))
