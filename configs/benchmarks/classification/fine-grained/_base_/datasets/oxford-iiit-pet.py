# Oxford-IIIT Pets in mmpretrain's layout (mmpretrain.datasets.OxfordIIITPet): Oxford-IIIT_Pets/{images/,
# annotations/{trainval,test}.txt}; 37 breeds, trainval 3,680 / test 3,669.
fg_num_classes = 37
fg_train_dataset = dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='trainval')
fg_test_dataset = dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='test')
