# ScatSimCLR-30 + rotation regulariser (lambda = 0.3 from the start, as the code; paper: pretext_start=40).
_base_ = ['./scatsimclr30_1xb64-100e_stl10.py']
model = dict(pretext_head=dict(type='RotationHead'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.rotation_train_pipeline}}))
